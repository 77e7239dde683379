"""Clients of a running Flow's gateway, over ZeroMQ."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from typing import Any

import zmq
import zmq.asyncio

from mesh.client.callbacks import Callback, Callbacks
from mesh.client.connection import ConnectionWatch, refuse_http_port
from mesh.client.inputs import Inputs, batch_requests
from mesh.client.pending import DEFAULT_TIMEOUT_S, HealthCheck, Pending
from mesh.client.progress import Progress
from mesh.errors import BadRequestError
from mesh.types.request import Request

__all__ = ["DEFAULT_TIMEOUT_S", "AsyncClient", "Client"]

_TICK_S = 0.1


class _Base:
    """``timeout_s``: the longest wait for the next answer while requests are pending (the
    first one from the call's start); past it a call raises ``RequestTimeoutError``. None
    waits for ever. ``health_check`` (a Flow's ``health``) names a Pea that died, and the
    call raises ``UnavailableError`` at once. ``flow``: a local Flow, for its gateway's port
    and its health."""

    def __init__(self, args: argparse.Namespace | None = None, *, host: str = "127.0.0.1",
                 port_expose: int | None = None, port: int | None = None, request_size: int = 100,
                 prefetch: int = 64, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                 show_progress: bool = False, health_check: HealthCheck | None = None,
                 connect_timeout_s: float | None = 10.0, flow: Any = None) -> None:
        if flow is not None:  # a mesh.Flow (not imported: the Flow imports the Client)
            host, port_expose = "127.0.0.1", flow.port_expose
            health_check = health_check or flow.health
        if timeout_s is not None and timeout_s <= 0:
            raise BadRequestError(f"timeout_s must be positive seconds or None, not {timeout_s!r}")
        if args is not None:
            host = getattr(args, "host", host)
            port_expose = getattr(args, "port_expose", port_expose)
            request_size = getattr(args, "request_size", request_size)
            show_progress = getattr(args, "show_progress", show_progress)
        port_expose = port_expose or port
        if not port_expose:
            raise BadRequestError("Client needs the gateway's port: Client(host=..., port_expose=...)")
        self.host, self.port_expose = host, int(port_expose)
        self.request_size, self.prefetch = request_size, prefetch
        self.timeout_s, self.show_progress, self.health_check = timeout_s, show_progress, health_check
        self.connect_timeout_s = connect_timeout_s
        self._sock: Any = None
        self._poller: zmq.Poller | None = None  # one for the socket's life, not one per wait
        self._watch: ConnectionWatch | None = None

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port_expose}"

    def _requests(self, on: str, inputs: Inputs, parameters: dict[str, Any] | None,
                  request_size: int | None) -> Iterator[Request]:
        return batch_requests(on, inputs, request_size=request_size or self.request_size,
                              parameters=parameters)

    def _connect(self, sock: Any) -> ConnectionWatch:
        """Connect ``sock`` to the gateway, watched from before the first attempt."""
        refuse_http_port(self.host, self.port_expose)
        sock.setsockopt(zmq.LINGER, 0)
        watch = ConnectionWatch(sock, self.address, connect_timeout_s=self.connect_timeout_s)
        sock.connect(self.address)
        return watch

    def _pending(self, on: str, watch: ConnectionWatch) -> Pending:
        return Pending(endpoint=on, watch=watch, timeout_s=self.timeout_s,
                       health_check=self.health_check)


class Client(_Base):
    """Sends Documents to a Flow and hands back its responses.

    ``Client(host='1.2.3.4', port_expose=45678).index([Document(text='hi')], on_done=print)``
    """

    def post(self, on: str, inputs: Inputs = None, *, parameters: dict[str, Any] | None = None,
             request_size: int | None = None, on_done: Callback | None = None,
             on_error: Callback | None = None, on_always: Callback | None = None,
             show_progress: bool | None = None) -> list[Request] | None:
        callbacks = Callbacks(on_done, on_error, on_always)
        progress = Progress(enabled=self.show_progress if show_progress is None else show_progress)
        sock = self._socket()
        assert self._watch is not None
        self._watch.begin()
        self._run(sock, self._requests(on, inputs, parameters, request_size), callbacks, progress,
                  self._pending(on, self._watch))
        progress.done()
        return callbacks.results if callbacks.collect else None

    def _socket(self) -> zmq.Socket:
        """One connection, kept across calls: a new one per call would cost a handshake."""
        if self._sock is None:
            self._sock = zmq.Context.instance().socket(zmq.DEALER)
            self._watch = self._connect(self._sock)
            self._poller = zmq.Poller()
            self._poller.register(self._sock, zmq.POLLIN)
        return self._sock

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
            self._poller = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if hasattr(self, "_watch"):  # not when __init__ refused its arguments
            self.close()

    def _run(self, sock: zmq.Socket, reqs: Iterator[Request], callbacks: Callbacks,
             progress: Progress, pending: Pending) -> None:
        exhausted = False
        assert self._poller is not None
        wait = self._poller.poll
        while not exhausted or pending:
            while not exhausted and len(pending) < self.prefetch:
                req = next(reqs, None)
                if req is None:
                    exhausted = True
                    break
                sock.send_multipart(req.to_frames(), copy=False)
                pending.sent(req.id)
            if not pending:
                break
            if not wait(int(_TICK_S * 1000)):
                pending.check()
                continue
            while pending:  # every answer there is, then wait again
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                resp = Request.from_frames(frames)
                if not pending.answered(resp.id):
                    continue  # a late answer to an earlier, abandoned call
                progress.update(resp.num_docs)
                callbacks(resp)

    def index(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return self.post("/index", inputs, **kwargs)

    def search(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return self.post("/search", inputs, **kwargs)

    def update(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return self.post("/update", inputs, **kwargs)

    def delete(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return self.post("/delete", inputs, **kwargs)

    def index_lines(self, lines: Any = None, *, filepath: str | None = None, **kwargs: Any) -> list[Request] | None:
        """Index text lines, from a list or a file, one Document per line."""
        if filepath is not None:
            with open(filepath, encoding="utf-8") as fh:
                lines = [line.rstrip("\n") for line in fh]
        return self.index([str(x) for x in lines or []], **kwargs)

    def search_lines(self, lines: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.search([str(x) for x in lines or []], **kwargs)


class AsyncClient(_Base):
    """The asyncio twin of :class:`Client`: ``await client.post(...)``."""

    async def post(self, on: str, inputs: Inputs = None, *, parameters: dict[str, Any] | None = None,
                   request_size: int | None = None, on_done: Callback | None = None,
                   on_error: Callback | None = None, on_always: Callback | None = None,
                   show_progress: bool | None = None) -> list[Request] | None:
        callbacks = Callbacks(on_done, on_error, on_always)
        progress = Progress(enabled=self.show_progress if show_progress is None else show_progress)
        sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
        watch = self._connect(sock)
        try:
            reqs = self._requests(on, inputs, parameters, request_size)
            await self._run(sock, reqs, callbacks, progress, self._pending(on, watch))
        finally:
            watch.close()
            sock.close(0)
        progress.done()
        return callbacks.results if callbacks.collect else None

    async def _run(self, sock: zmq.asyncio.Socket, reqs: Iterator[Request], callbacks: Callbacks,
                   progress: Progress, pending: Pending) -> None:
        exhausted = False
        while not exhausted or pending:
            while not exhausted and len(pending) < self.prefetch:
                req = next(reqs, None)
                if req is None:
                    exhausted = True
                    break
                await sock.send_multipart(req.to_frames(), copy=False)
                pending.sent(req.id)
            if not pending:
                break
            try:
                frames = await asyncio.wait_for(sock.recv_multipart(), _TICK_S)
            except asyncio.TimeoutError:
                pending.check()
                continue
            resp = Request.from_frames(frames)
            if not pending.answered(resp.id):
                continue
            progress.update(resp.num_docs)
            callbacks(resp)

    async def index(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return await self.post("/index", inputs, **kwargs)

    async def search(self, inputs: Inputs = None, **kwargs: Any) -> list[Request] | None:
        return await self.post("/search", inputs, **kwargs)
