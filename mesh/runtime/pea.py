"""A Pea: receives requests, runs its Executor on them, sends them on."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import zmq

from mesh.errors import BadRequestError
from mesh.executors.base import Executor
from mesh.executors.dispatch import run_handler
from mesh.executors.loader import load_executor
from mesh.runtime.base import Runtime
from mesh.runtime.config import PeaConfig
from mesh.runtime.parts import PartCollector, merge_headers
from mesh.runtime.sockets import open_socket
from mesh.types.request import Request

__all__ = ["PeaRuntime"]

logger = logging.getLogger("mesh.pea")


class PeaRuntime(Runtime):
    def __init__(self, config: PeaConfig) -> None:
        super().__init__(name=config.name, port_ctrl=config.port_ctrl, keys=config.keys,
                         metrics=config.metrics)
        self.config = config
        self._bytes_in = 0  # of the parts of the request being collected
        self.collector = PartCollector(config.num_parts)
        self.outputs = [open_socket(self.ctx, zmq.PUSH, s, owner=config.name, keys=config.keys)
                        for s in config.outputs]
        inputs = [open_socket(self.ctx, zmq.PULL, s, owner=config.name, keys=config.keys)
                  for s in config.inputs]
        for sock in inputs:
            self.register(sock, self._on_data)
        logger.info("input %s output %s control over tcp://0.0.0.0:%d (ROUTER_BIND)%s",
                    " ".join(s.describe("PULL") for s in config.inputs) or "-",
                    " ".join(s.describe("PUSH") for s in config.outputs) or "-", config.port_ctrl,
                    "; data sockets encrypted (CURVE)" if config.keys and config.keys.encrypt else "")
        self.executor: Executor = load_executor(
            config.uses, uses_with=config.uses_with, base_dir=config.base_dir,
            metas={"name": config.pod, "pea": config.name, "replica_id": config.replica_id})
        self.open_ctrl()

    def _on_data(self, sock: zmq.Socket) -> None:
        frames = sock.recv_multipart()
        size = sum(len(f) for f in frames)
        self.counts["recv"] += 1
        self.counts["recv_bytes"] += size
        self._bytes_in += size
        parts = self.collector.add(Request.from_frames(frames))
        if parts is None:
            return
        started = time.perf_counter()
        try:
            req = self.handle(parts)
        except Exception as exc:  # noqa: BLE001 - e.g. undecodable parts: fail the request, not the Pea
            req = self.fail(parts[0], exc)
        out = self.encode(req)
        for s in self.outputs:
            s.send_multipart(out, copy=False)
        sent = sum(len(f) for f in out) * len(self.outputs)
        self.counts["sent"] += len(self.outputs)
        self.counts["sent_bytes"] += sent
        if self.meter is not None:
            self.meter.observe(req.endpoint, time.perf_counter() - started, failed=req.failed,
                               bytes_in=self._bytes_in, bytes_out=sent, docs=req.num_docs)
        self._bytes_in = 0
        if logger.isEnabledFor(logging.DEBUG):
            c = self.counts
            logger.debug("#sent: %d #recv: %d sent_size: %d Bytes recv_size: %d Bytes",
                         c["sent"], c["recv"], c["sent_bytes"], c["recv_bytes"])

    def handle(self, parts: list[Request]) -> Request:
        req = parts[0]
        entry = req.enter(self.config.pod, self.config.name)
        matrix = [p.docs for p in parts] if len(parts) > 1 else None
        if matrix is not None:
            req = merge_headers(parts)
        if not req.failed and not run_handler(self.executor, req, pod=self.config.pod,
                                                docs_matrix=matrix):
            self.counts["failed"] += 1
        entry["end"] = time.time()
        return req

    def encode(self, req: Request) -> list[Any]:
        """The request's frames; Documents that cannot be encoded fail the request, not the Pea."""
        try:
            return req.to_frames()
        except BadRequestError as exc:
            return self.fail(req, exc).to_frames()

    def fail(self, req: Request, exc: Exception) -> Request:
        """Mark ``req`` failed by this pod and drop its Documents, which cannot be used."""
        self.counts["failed"] += 1
        logger.error("request %s on %s failed: %s: %s", req.id, req.endpoint, type(exc).__name__, exc)
        req.docs = []
        req.mark_failed(pod=self.config.pod, exc=exc, traceback=traceback.format_exc())
        return req

    def status_extra(self) -> dict[str, Any]:
        return {"pod": self.config.pod, "executor": type(self.executor).__name__,
                "pending_parts": len(self.collector)}

    def close(self) -> None:
        try:
            self.executor.close()
        except Exception:
            logger.exception("executor close failed")
        super().close()
