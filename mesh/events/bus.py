"""The bus: one nats-py connection that speaks event models instead of bytes.

Every handled message passes one boundary, :meth:`Bus.subscribe`'s dispatch: the payload
is decoded into the handler's model, the handler runs (in order, or as one task per
message up to ``concurrency`` at once), it is timed and counted (:mod:`mesh.events.metrics`),
a failure is logged on this node and, for requests, sent back as the one error envelope
(:class:`ErrorReply`). :meth:`Bus.request` and :meth:`Bus.gather` re-raise an envelope as
the same error type it was raised as (also a :class:`RemoteError`). Reconnects are nats-py's
own (``allow_reconnect``, ``reconnect_time_wait``, ``max_reconnect_attempts``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import BaseModel
from typing_extensions import Self

from mesh.events import codec, metrics
from mesh.events.connection import (
    is_refusal,
    login_named,
    redact,
    require_nkeys,
    split_servers,
    tls_context,
)
from mesh.events.errors import (
    BusConnectError,
    BusTimeoutError,
    EventDecodeError,
    NoRespondersError,
    RemoteError,
    remote_error,
)
from mesh.events.models import ErrorBody, ErrorReply
from mesh.events.signing import Signer, Verifier

__all__ = ["Bus", "Handler", "raise_for_error"]

logger = logging.getLogger(__name__)

UNSTICK_S = 3.0  # a lost connection not reconnecting by then is aborted (_unstick_reconnect)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
Handler = Callable[[Any, Msg], Awaitable[BaseModel | None]]
Audit = Callable[[Msg, "str | None", "BaseException | None"], Awaitable[None]]


class Bus:
    """A named NATS connection. Build it with ``await Bus.connect(url, name=...)``."""

    def __init__(self, *, name: str, servers: list[str]) -> None:
        self.name = name
        self.servers = servers
        self.safe_servers = [redact(url) for url in servers]  # for messages: no passwords
        self._nc = Client()
        self._js: JetStreamContext | None = None
        self._connected_once = False
        self._closing = False  # close() was called: the disconnect that follows is ours
        self._refused = asyncio.Event()  # the server rejected our credentials while connecting
        self._reconnect_hooks: list[Callable[[], Awaitable[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # handlers running as tasks of their own
        self._up = asyncio.Event()  # connected now (cleared while nats-py reconnects)
        self.signer: Signer | None = None  # signs commands sent with signed=True
        self._login: dict[str, str] = {}  # user and password, when the connection has them
        self._disconnects = self._disconnects_seen = 0  # disconnected_cb calls; at the last error
        self._unstick: asyncio.Task[None] | None = None
        self._relogged = asyncio.Event()

    def __repr__(self) -> str:
        state = "connected" if self._nc.is_connected else "closed" if self._nc.is_closed else "down"
        return f"Bus(name={self.name!r}, servers={self.safe_servers!r}, {state})"

    @classmethod
    async def connect(
        cls,
        url: str | Sequence[str],
        *,
        name: str,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        creds: str | None = None,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        connect_timeout_s: float = 5.0,
        reconnect_wait_s: float = 2.0,
        max_reconnects: int = -1,
        inbox_prefix: str | None = None,
    ) -> Bus:
        """Connect within ``connect_timeout_s`` or raise BusConnectError naming the URL.

        ``url`` may be a comma-separated list or a sequence (a cluster). After the first
        connect, nats-py reconnects by itself (``max_reconnects=-1``: forever). Replies come back
        under ``inbox_prefix`` (``_INBOX`` when unset; see mesh/daemon/roles.py).
        """
        servers = split_servers(url)
        if creds is not None:
            require_nkeys()
        bus = cls(name=name, servers=servers)
        if user is not None:
            bus._login = {"user": user, "password": password or ""}
        options: dict[str, Any] = {
            "servers": servers, "name": name, "token": token,
            # read at each (re)connect, so that relogin() can change them
            "user": bus._current_user if user is not None else None,
            "password": bus._current_password if user is not None else None,
            "user_credentials": creds, "tls": tls_context(tls_ca, tls_cert, tls_key),
            "connect_timeout": connect_timeout_s, "reconnect_time_wait": reconnect_wait_s,
            "max_reconnect_attempts": max_reconnects, "allow_reconnect": True,
            "inbox_prefix": inbox_prefix,
        }
        await bus._open({k: v for k, v in options.items() if v is not None}, connect_timeout_s)
        return bus

    async def _open(self, options: dict[str, Any], timeout_s: float) -> None:
        """Connect, or raise BusConnectError: at once when the server refuses the credentials
        (retrying cannot help), else after ``timeout_s``."""
        connect = asyncio.ensure_future(self._nc.connect(
            **options, error_cb=self._on_error, disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected, closed_cb=self._on_closed,
        ))
        refused = asyncio.ensure_future(self._refused.wait())
        try:
            await asyncio.wait({connect, refused}, timeout=timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # we are cancelled: so is the attempt
            connect.cancel()
            raise
        finally:
            refused.cancel()
        if self._refused.is_set():
            connect.cancel()
            await asyncio.gather(connect, return_exceptions=True)
            last = self._nc.last_error
            await self._nc.close()
            raise BusConnectError(
                f"NATS at {', '.join(self.safe_servers)} refused {login_named(options)}: "
                f"{str(last).removeprefix('nats: ').strip(chr(39))}; check the NATS user and "
                "password (or token, creds file)", detail={"servers": self.safe_servers})
        try:
            if not connect.done():
                connect.cancel()
                await asyncio.gather(connect, return_exceptions=True)
                raise asyncio.TimeoutError()
            connect.result()
        except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
            last = self._nc.last_error or exc
            await self._nc.close()
            raise BusConnectError(
                f"cannot connect to NATS at {', '.join(self.safe_servers)} within {timeout_s:g}s: "
                f"{type(last).__name__}: {last}",
                detail={"servers": self.safe_servers},
            ) from exc
        self._connected_once = True
        self._up.set()
        url = self._nc.connected_url
        logger.info("%s connected to %s", self.name, url.netloc if url else "?")

    def _current_user(self) -> str:
        return self._login["user"]

    def _current_password(self) -> str:
        return self._login["password"]

    @property
    def user(self) -> str | None:
        """The NATS user this connection logs in as (None: a token, creds file or nobody)."""
        return self._login.get("user")

    async def relogin(self, user: str, password: str, *, timeout_s: float = 15.0) -> None:
        """Log in again as ``user``: the connection reconnects at once with the new user and
        password, and keeps its subscriptions, its inbox prefix and what it had not sent yet
        (as after a broker restart). For rotating credentials while running; the new user
        must be one the broker takes (BusConnectError when it is not back within
        ``timeout_s``, the connection still trying)."""
        if not self._login:
            raise BusConnectError(f"{self.name} logs in without a user and password: nothing "
                                  "to change", detail={"servers": self.safe_servers})
        self._login = {"user": user, "password": password}
        self._relogged.clear()
        await self._nc.force_reconnect()
        try:
            await asyncio.wait_for(self._relogged.wait(), timeout_s)
        except asyncio.TimeoutError:
            raise BusConnectError(
                f"{self.name} did not reconnect as NATS user {user!r} within {timeout_s:g} s: "
                f"{self._nc.last_error}", detail={"servers": self.safe_servers}) from None
        logger.info("%s logs in as NATS user %s now", self.name, user)

    @property
    def nc(self) -> Client:
        """The underlying nats-py client (for what the bus does not wrap)."""
        return self._nc

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            self._js = self._nc.jetstream()
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._nc.is_connected

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``await hook()`` after each reconnect (e.g. to re-announce state)."""
        self._reconnect_hooks.append(hook)

    def _headers(self, subject: str, payload: bytes, signed: bool) -> dict[str, str] | None:
        if not signed:
            return None
        if self.signer is None:
            raise RuntimeError(f"{self.name} has no key to sign a command on {subject}")
        return self.signer.headers(subject, payload)

    async def publish(self, subject: str, model: BaseModel, *, signed: bool = False) -> None:
        payload = codec.encode(model)
        await self._nc.publish(subject, payload, headers=self._headers(subject, payload, signed))

    async def request(self, subject: str, model: BaseModel, reply_cls: type[R], *, timeout_s: float,
                      signed: bool = False) -> R:
        """Send a request and return its decoded reply; RemoteError if it is an error envelope.
        ``signed`` commands carry this bus's signature (see :mod:`mesh.events.signing`)."""
        payload = codec.encode(model)
        headers = self._headers(subject, payload, signed)
        try:
            msg = await self._nc.request(subject, payload, timeout=timeout_s, headers=headers)
        except nats.errors.NoRespondersError as exc:
            raise NoRespondersError(f"no responders on {subject}", detail={"subject": subject}) from exc
        except nats.errors.TimeoutError as exc:
            raise BusTimeoutError(
                f"no reply on {subject} within {timeout_s:g}s", detail={"subject": subject}
            ) from exc
        reply = codec.decode_one_of(msg.data, [reply_cls, ErrorReply])
        if isinstance(reply, ErrorReply):
            raise remote_error(reply.error, reply)
        raise_for_error(reply)
        return reply  # type: ignore[return-value]  # decode_one_of returned reply_cls

    async def subscribe(
        self, subject: str, model_cls: type[M], handler: Handler, *, queue: str | None = None,
        name: str | None = None, concurrency: int = 1, verify: Verifier | None = None,
        audit: Audit | None = None,
    ) -> Subscription:
        """Call ``handler(model, msg)`` for each message; its returned model is the reply.

        With ``concurrency`` 1 messages are handled one after the other, in order; above it,
        each message runs as a task of its own, at most ``concurrency`` at once (a slow
        spawn does not hold up the next one). ``name`` labels the handler in logs and metrics.
        With ``verify``, a message without a valid signature of a trusted key is refused (a
        ForbiddenError reply) before it is decoded; ``audit`` hears of each message taken or
        refused, with the signer's key.
        """
        label = name or _name(handler)
        gate = _Gate(verify, audit)
        if concurrency <= 1:
            async def on_msg(msg: Msg) -> None:
                await self._dispatch(msg, model_cls, handler, label, gate)
        else:
            slots = asyncio.Semaphore(concurrency)

            async def bounded(msg: Msg) -> None:
                async with slots:
                    await self._dispatch(msg, model_cls, handler, label, gate)

            async def on_msg(msg: Msg) -> None:
                task = asyncio.create_task(bounded(msg), name=f"{label}:{msg.subject}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        sub = await self._nc.subscribe(subject, queue=queue or "", cb=on_msg)
        logger.debug("%s subscribed to %s (queue=%s, handler %s)", self.name, subject, queue, label)
        return sub

    async def _dispatch(self, msg: Msg, model_cls: type[M], handler: Handler, label: str,
                        gate: _Gate) -> None:
        metrics.HANDLED.labels(label).inc()
        gauge = metrics.IN_FLIGHT.labels(label)
        gauge.inc()
        try:
            with metrics.HANDLER_SECONDS.labels(label).time():
                await gate.check(msg)
                result = await handler(codec.decode(msg.data, model_cls), msg)
        except asyncio.CancelledError as exc:
            if _cancelling():
                raise
            await self._failed(msg, label, exc)  # raised inside the handler, not at us
        except Exception as exc:  # noqa: BLE001 - the one boundary per handler: log, reply, go on
            await self._failed(msg, label, exc)
        else:
            if result is not None and msg.reply:
                await self.reply(msg, result)
        finally:
            gauge.dec()

    async def _failed(self, msg: Msg, label: str, exc: BaseException) -> None:
        body = ErrorBody.from_exception(exc)
        metrics.HANDLER_ERRORS.labels(label, body.error).inc()
        logger.warning("%s failed on %s: %s: %s", label, msg.subject, body.error, body.message,
                       exc_info=not hasattr(exc, "status"))  # a traceback for bugs only
        if msg.reply:
            await self.reply(msg, ErrorReply(error=body))

    async def wait_handlers(self, timeout_s: float) -> None:
        """Wait for the handlers running as tasks (after unsubscribing: no new ones come)."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            if late:
                logger.warning("%s: %d handlers still running after %.0f s", self.name, len(late),
                               timeout_s)

    async def gather(self, subject: str, model: BaseModel, reply_cls: type[R], *,
                     expect: set[str], who: Callable[[R], str | None], timeout_s: float,
                     signed: bool = False) -> tuple[list[R], list[RemoteError]]:
        """Publish one request that many take (scatter) and collect their replies (gather)
        until everyone in ``expect`` (as ``who(reply)`` names them) has answered or
        ``timeout_s`` has passed. Error envelopes come back as errors, not raised; those
        who did not answer in time are logged."""
        replies: list[R] = []
        errors: list[RemoteError] = []
        waiting = set(expect)
        done = asyncio.Event()
        if not waiting:
            done.set()

        async def on_reply(msg: Msg) -> None:
            try:
                reply = codec.decode_one_of(msg.data, [reply_cls, ErrorReply])
            except EventDecodeError as exc:
                logger.warning("undecodable reply on %s: %s", subject, exc)
                return
            if isinstance(reply, ErrorReply):
                errors.append(remote_error(reply.error, reply))
                return
            replies.append(reply)  # type: ignore[arg-type]  # decode_one_of returned reply_cls
            waiting.discard(who(reply) or "")  # type: ignore[arg-type]
            if not waiting:
                done.set()

        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox, cb=on_reply)
        try:
            payload = codec.encode(model)
            await self._nc.publish(subject, payload, reply=inbox,
                                   headers=self._headers(subject, payload, signed))
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except asyncio.TimeoutError:
                logger.warning("no reply on %s from %s within %g s", subject, sorted(waiting),
                               timeout_s)
        finally:
            await sub.unsubscribe()
        return replies, errors

    async def reply(self, msg: Msg, model: BaseModel) -> None:
        await self._nc.publish(msg.reply, codec.encode(model))

    async def flush(self, *, timeout_s: float = 5.0) -> None:
        await self._nc.flush(timeout=timeout_s)  # type: ignore[arg-type]  # annotated int; float works

    async def drain(self, *, timeout_s: float = 30.0) -> None:
        """Finish in-flight handlers, flush what is published, then close."""
        await self.wait_handlers(timeout_s)
        self._stop_unstick()
        if not self._nc.is_closed:
            self._closing = True
            await self._nc.drain()

    async def close(self) -> None:
        self._stop_unstick()
        if not self._nc.is_closed:
            self._closing = True
            await self._nc.close()

    def _stop_unstick(self) -> None:
        if self._unstick is not None:
            self._unstick.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _on_error(self, exc: Exception) -> None:
        if not self._connected_once and is_refusal(exc):
            self._refused.set()
        level = logging.WARNING if self._connected_once else logging.DEBUG
        logger.log(level, "%s: nats error: %s: %s", self.name, type(exc).__name__, exc)
        lost = isinstance(exc, (nats.errors.UnexpectedEOF, OSError)) and self._nc.is_connected
        if lost:  # (the read loop reports the loss before it starts reconnecting)
            self._disconnects_seen = self._disconnects
            if self._unstick is None or self._unstick.done():
                self._unstick = asyncio.create_task(self._unstick_reconnect(), name="unstick")

    async def _unstick_reconnect(self) -> None:
        """nats-py (2.16) can wait for ever on the lost socket's close before it reconnects
        (``_attempt_reconnect`` awaits ``wait_closed()``; nats.py issue 671): a connection
        that lost its server and has not started reconnecting within ``UNSTICK_S`` has its
        old socket aborted, which ends the wait."""
        await asyncio.sleep(UNSTICK_S)
        if self._closing or self._nc.is_closed or self._disconnects != self._disconnects_seen:
            return  # closed, or the reconnect began (disconnected_cb ran)
        writer = getattr(getattr(self._nc, "_transport", None), "_io_writer", None)
        transport = getattr(writer, "transport", None)
        if transport is None or self._nc.is_connected:
            return
        logger.warning("%s: the lost connection did not close within %g s; aborting it so "
                       "that the client reconnects", self.name, UNSTICK_S)
        transport.abort()

    async def wait_connected(self) -> None:
        """Return once the connection is up (at once when it is)."""
        await self._up.wait()

    async def _on_disconnected(self) -> None:
        self._disconnects += 1
        self._up.clear()
        if self._connected_once and not self._closing:
            logger.warning("%s disconnected from NATS", self.name)

    async def _on_reconnected(self) -> None:
        self._up.set()
        self._relogged.set()
        url = self._nc.connected_url
        logger.info("%s reconnected to %s", self.name, url.netloc if url else "?")
        for hook in self._reconnect_hooks:
            try:
                await hook()
            except Exception:
                logger.exception("%s: reconnect hook %s failed", self.name, _name(hook))

    async def _on_closed(self) -> None:
        if self._connected_once:
            logger.info("%s closed its NATS connection", self.name)


class _Gate:
    """A subscription's signature check and audit; lets everything through without them."""

    def __init__(self, verify: Verifier | None, audit: Audit | None) -> None:
        self.verify, self.audit = verify, audit

    async def check(self, msg: Msg) -> None:
        if self.verify is None:
            return
        try:
            key = await self.verify.check(msg.subject, msg.data, msg.headers)
        except Exception as exc:
            await self._audit(msg, msg.headers.get("Mesh-Key") if msg.headers else None, exc)
            raise
        await self._audit(msg, key, None)

    async def _audit(self, msg: Msg, key: str | None, refused: BaseException | None) -> None:
        if self.audit is not None:
            try:
                await self.audit(msg, key, refused)
            except Exception:  # noqa: BLE001 - an audit record that fails must not stop the command
                logger.exception("audit of %s failed", msg.subject)


def raise_for_error(reply: BaseModel) -> None:
    """Raise the remote error if a typed reply (e.g. SpawnReply) carries an ``error`` body."""
    body = getattr(reply, "error", None)
    if isinstance(body, ErrorBody):
        raise remote_error(body, reply)


def _cancelling() -> bool:
    """True when the running task itself is being cancelled (Python 3.11+; else assume so)."""
    task = asyncio.current_task()
    return task is None or not hasattr(task, "cancelling") or task.cancelling() > 0


def _name(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
