"""The gateway: takes client requests into the Flow and returns the results."""

from __future__ import annotations

import logging
import time
from typing import Any

import zmq

from mesh.errors import BadRequestError
from mesh.runtime.base import Runtime
from mesh.runtime.config import GatewayConfig, SocketSpec
from mesh.runtime.parts import PartCollector, merge_headers
from mesh.runtime.sockets import HWM, open_socket
from mesh.types.request import Request

__all__ = ["GatewayRuntime"]

logger = logging.getLogger("mesh.pea")


class GatewayRuntime(Runtime):
    def __init__(self, config: GatewayConfig) -> None:
        super().__init__(name=config.name, port_ctrl=config.port_ctrl, keys=config.keys,
                         metrics=config.metrics)
        self.config = config
        self.collector = PartCollector(config.num_parts)
        self.pending: dict[str, tuple[list[bytes], float, int]] = {}  # ident, start, bytes in
        self.outputs = [open_socket(self.ctx, zmq.PUSH, s, owner=config.name, keys=config.keys)
                        for s in config.outputs]
        for spec in config.inputs:
            pull = open_socket(self.ctx, zmq.PULL, spec, owner=config.name, keys=config.keys)
            self.register(pull, self._on_result)
        # the Clients' port: outside the Flow, so never CURVE (a Client holds no Flow key)
        self.frontend = open_socket(self.ctx, zmq.ROUTER, SocketSpec(mode="bind", port=config.port_expose),
                                    owner=config.name)
        self.frontend.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.frontend.setsockopt(zmq.SNDHWM, HWM)
        self.register(self.frontend, self._on_client)
        self.http = None
        if config.port_http:
            from mesh.runtime.http_gateway import HttpGateway

            self.http = HttpGateway(port_http=config.port_http, port_expose=config.port_expose,
                                    pod_controls=config.pod_controls)
            self.http.start()
        self.open_ctrl()

    def _on_client(self, sock: zmq.Socket) -> None:
        frames = sock.recv_multipart()
        ident, body = frames[:1], frames[1:]  # clients are DEALERs: [identity, *request]
        try:
            req = _client_request(body)
        except BadRequestError as exc:
            self._refuse(ident, exc)
            return
        self.counts["recv"] += 1
        entry = req.enter("gateway", "gateway")
        entry["end"] = entry["start"]
        self.pending[req.id] = (ident, time.perf_counter(), sum(len(f) for f in body))
        out = req.to_frames()
        for s in self.outputs:
            s.send_multipart(out, copy=False)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("send: %d recv: %d pending: %d", self.counts["sent"], self.counts["recv"],
                         len(self.pending))

    def _refuse(self, ident: list[bytes], exc: BadRequestError) -> None:
        """Answer a bad request as failed when it has an id to answer to; else drop it."""
        request_id = exc.detail.get("id")
        if request_id is None:
            logger.warning("dropped a message from a client: %s", exc.message)
            return
        reply = Request.new("", request_id=request_id)
        reply.mark_failed(pod="gateway", exc=exc)
        self.frontend.send_multipart([*ident, *reply.to_frames()])
        self.counts["failed"] += 1

    def _on_result(self, sock: zmq.Socket) -> None:
        parts = self.collector.add(Request.from_frames(sock.recv_multipart()))
        if parts is None:
            return
        req = merge_headers(parts)
        waiting = self.pending.pop(req.id, None)
        if waiting is None:
            logger.warning("result for unknown request %s dropped", req.id)
            return
        out = req.to_frames()
        self.frontend.send_multipart([*waiting[0], *out], copy=False)
        self.counts["sent"] += 1
        if req.failed:
            self.counts["failed"] += 1
        if self.meter is not None:  # end to end: from the client's request to its answer
            self.meter.observe(req.endpoint, time.perf_counter() - waiting[1], failed=req.failed,
                               bytes_in=waiting[2], bytes_out=sum(len(f) for f in out),
                               docs=req.num_docs)

    def status_extra(self) -> dict[str, Any]:
        return {"pod": "gateway", "pending": len(self.pending), "port_expose": self.config.port_expose,
                "port_http": self.config.port_http}

    def close(self) -> None:
        if self.http is not None:
            self.http.stop()
        super().close()


def _client_request(body: list[bytes]) -> Request:
    """A client's request, checked at the edge so that no Pea gets a header it cannot read."""
    try:
        req = Request.from_frames(body)
    except (IndexError, ValueError) as exc:
        raise BadRequestError(f"not a request ({len(body)} frames): {exc}") from exc
    header = req.header
    request_id = header.get("id") if isinstance(header, dict) else None
    if not isinstance(request_id, str) or any(not isinstance(header.get(key, default), kind)
                                              for key, kind, default in _HEADER):
        raise BadRequestError("a request header must be a JSON object with string 'id' and "
                              "'endpoint', and optional object 'parameters' and 'status', list 'route'",
                              detail={"id": request_id} if isinstance(request_id, str) else {})
    return req


_HEADER: list[tuple[str, type, Any]] = [("endpoint", str, None), ("parameters", dict, {}),
           ("route", list, []), ("status", dict, {})]
