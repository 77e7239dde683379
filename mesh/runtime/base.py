"""The loop every Pea and gateway runs: data sockets, a control socket, a clean stop."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import time
from typing import Any

import zmq

from mesh.runtime.sockets import bind_port
from mesh.types.codec import dumps, loads

__all__ = ["Runtime"]

logger = logging.getLogger("mesh.pea")

_POLL_MS = 500


class Runtime:
    """Binds a control socket last, so that an answer on it means READY."""

    def __init__(self, *, name: str, port_ctrl: int) -> None:
        self.name = name
        self.port_ctrl = port_ctrl
        self.ctx = zmq.Context()
        self.poller = zmq.Poller()
        self.ctrl: zmq.Socket | None = None
        self.running = False
        self.counts = {"recv": 0, "sent": 0, "recv_bytes": 0, "sent_bytes": 0, "failed": 0}
        self._parent = int(os.environ.get("MESH_PARENT_PID", "0") or 0)
        self._handlers: dict[zmq.Socket, Any] = {}

    def register(self, sock: zmq.Socket, handler: Any) -> None:
        self.poller.register(sock, zmq.POLLIN)
        self._handlers[sock] = handler

    def open_ctrl(self) -> None:
        ctrl = self.ctx.socket(zmq.ROUTER)
        ctrl.setsockopt(zmq.LINGER, 0)
        bind_port(ctrl, self.port_ctrl, owner=self.name)
        self.ctrl = ctrl
        self.register(ctrl, self._on_ctrl)

    def run_forever(self) -> None:
        self.running = True
        self._wake_on_signals()
        logger.info("ready and listening")
        try:
            while self.running:
                self._poll_once()
        finally:
            self.close()

    def _wake_on_signals(self) -> None:
        """A signal writes a byte to a socket the poller watches, so the loop sees it at once
        and stops between two messages, never in the middle of one."""
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno())
        self.poller.register(self._wake_r, zmq.POLLIN)
        self._handlers[self._wake_r] = self._on_wake  # type: ignore[index]
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_wake(self, sock: socket.socket) -> None:
        try:
            sock.recv(64)
        except BlockingIOError:
            pass

    def _poll_once(self) -> None:
        try:
            events = self.poller.poll(_POLL_MS)
        except zmq.ZMQError as exc:
            if exc.errno == errno.EINTR:
                return
            raise
        for sock, _ in events:
            if not self.running:
                return
            self._handlers[sock](sock)
        if not events and self._parent and os.getppid() != self._parent:
            logger.warning("parent process %d is gone, stopping", self._parent)
            self.running = False

    def _on_signal(self, signum: int, _frame: Any) -> None:
        """Only a flag: the wakeup socket ends the poll, and a request in hand is finished first."""
        self.running = False

    def _on_ctrl(self, sock: zmq.Socket) -> None:
        frames = sock.recv_multipart()
        ident, body = frames[:-1], frames[-1]
        try:
            cmd = loads(body).get("cmd", "status")
        except (ValueError, AttributeError):  # not JSON, or not an object: a plain ping
            cmd = "status"
        if cmd == "terminate":
            self.running = False
        reply = {"ok": True, "cmd": cmd, "pea": self.name, "pid": os.getpid(),
                 "time": time.time(), "counts": self.counts, **self.status_extra()}
        sock.send_multipart([*ident, dumps(reply)])

    def status_extra(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        c = self.counts
        logger.info("terminated (#recv: %d #sent: %d #failed: %d)", c["recv"], c["sent"], c["failed"])
        self.ctx.destroy(linger=0)
