"""A Pea: receives requests, runs its Executor on them, sends them on."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import zmq

from mesh.executors.base import Executor
from mesh.executors.loader import load_executor
from mesh.runtime.base import Runtime
from mesh.runtime.config import PeaConfig
from mesh.runtime.parts import PartCollector, merge_headers
from mesh.runtime.sockets import open_socket
from mesh.types.document import Document
from mesh.types.request import Request

__all__ = ["PeaRuntime"]

logger = logging.getLogger("mesh.pea")


class PeaRuntime(Runtime):
    def __init__(self, config: PeaConfig) -> None:
        super().__init__(name=config.name, port_ctrl=config.port_ctrl)
        self.config = config
        self.collector = PartCollector(config.num_parts)
        self.outputs = [open_socket(self.ctx, zmq.PUSH, s, owner=config.name) for s in config.outputs]
        inputs = [open_socket(self.ctx, zmq.PULL, s, owner=config.name) for s in config.inputs]
        for sock in inputs:
            self.register(sock, self._on_data)
        logger.info("input %s output %s control over tcp://0.0.0.0:%d (ROUTER_BIND)",
                    " ".join(s.describe("PULL") for s in config.inputs) or "-",
                    " ".join(s.describe("PUSH") for s in config.outputs) or "-", config.port_ctrl)
        self.executor: Executor = load_executor(
            config.uses, uses_with=config.uses_with, base_dir=config.base_dir,
            metas={"name": config.pod, "pea": config.name, "replica_id": config.replica_id})
        self.open_ctrl()

    def _on_data(self, sock: zmq.Socket) -> None:
        frames = sock.recv_multipart()
        self.counts["recv"] += 1
        self.counts["recv_bytes"] += sum(len(f) for f in frames)
        parts = self.collector.add(Request.from_frames(frames))
        if parts is None:
            return
        req = self.handle(parts)
        out = req.to_frames()
        for s in self.outputs:
            s.send_multipart(out, copy=False)
        self.counts["sent"] += len(self.outputs)
        self.counts["sent_bytes"] += sum(len(f) for f in out) * len(self.outputs)
        if logger.isEnabledFor(logging.DEBUG):
            c = self.counts
            logger.debug("#sent: %d #recv: %d sent_size: %d Bytes recv_size: %d Bytes",
                         c["sent"], c["recv"], c["sent_bytes"], c["recv_bytes"])

    def handle(self, parts: list[Request]) -> Request:
        req = parts[0]
        entry = req.enter(self.config.pod, self.config.name)
        handler = self.executor.handler_for(req.endpoint)
        if len(parts) > 1:
            matrix = [p.docs for p in parts]
            req = merge_headers(parts)
        else:
            matrix = None
        if handler is not None and not req.failed:
            self._run(handler, req, matrix)
        entry["end"] = time.time()
        return req

    def _run(self, handler: Any, req: Request, matrix: Any) -> None:
        available: dict[str, Any] = {"parameters": req.parameters, "endpoint": req.endpoint,
                                     "request": req}
        if handler.wants_docs:
            available["docs"] = req.docs
            available["docs_matrix"] = matrix if matrix is not None else [req.docs]
        try:
            result = getattr(self.executor, handler.name)(**handler.kwargs(available))
        except Exception as exc:
            self.counts["failed"] += 1
            logger.error("%s on %s failed: %s: %s", handler.name, req.endpoint, type(exc).__name__, exc)
            req.mark_failed(pod=self.config.pod, exc=exc, traceback=traceback.format_exc())
            return
        if result is not None:
            self._apply(req, result, handler.name)

    def _apply(self, req: Request, result: Any, method: str) -> None:
        if isinstance(result, dict):
            req.parameters.setdefault("__results__", {})[self.config.pod] = result
            return
        docs = list(result)
        if not all(isinstance(d, Document) for d in docs):
            err = TypeError(f"{type(self.executor).__name__}.{method} returned {type(result).__name__}; "
                            "return None, a list of Documents, or a dict of results")
            req.mark_failed(pod=self.config.pod, exc=err)
            return
        req.docs = docs

    def status_extra(self) -> dict[str, Any]:
        return {"pod": self.config.pod, "executor": type(self.executor).__name__,
                "pending_parts": len(self.collector)}

    def close(self) -> None:
        try:
            self.executor.close()
        except Exception:
            logger.exception("executor close failed")
        super().close()
