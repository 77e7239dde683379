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

from mesh.runtime.keys import MeshKeys
from mesh.runtime.meter import Meter
from mesh.runtime.sockets import bind_port, open_zap
from mesh.types.codec import dumps, loads

__all__ = ["Runtime"]

logger = logging.getLogger("mesh.pea")

_POLL_MS = 500
_OPEN = ("status", "ping", "metrics")  # mesh.runtime.ctrl_auth.OPEN, without importing hashlib
_COMMANDS = ("status", "ping", "metrics", "terminate")
_WARN_EVERY_S = 10.0  # refused commands: one warning per this long, not one per message


class Runtime:
    """Binds a control socket last, so that an answer on it means READY. Obeys a command
    other than status and ping only when it is signed with the Flow's key
    (:mod:`mesh.runtime.ctrl_auth`); with ``keys.encrypt``, a ZAP handler admits to the
    encrypted data sockets only the Flow's own CURVE client key."""

    def __init__(self, *, name: str, port_ctrl: int, keys: MeshKeys | None = None,
                 metrics: bool = True) -> None:
        self.name = name
        self.port_ctrl = port_ctrl
        self.keys = keys
        self.started = time.time()  # commands signed before this are not for this life of it
        self.ctx = zmq.Context()
        self.poller = zmq.Poller()
        self.ctrl: zmq.Socket | None = None
        self.running = False
        self.counts = {"recv": 0, "sent": 0, "recv_bytes": 0, "sent_bytes": 0, "failed": 0}
        self.meter = Meter() if metrics else None  # the Flow's ``metrics: false``: None
        self._parent = int(os.environ.get("MESH_PARENT_PID", "0") or 0)
        self._handlers: dict[zmq.Socket, Any] = {}
        self._verifier: Any = None  # a ctrl_auth.Verifier, made at the first signed command
        self._refused = 0
        self._warned_at = 0.0
        self._curve_client = b""
        if keys is not None and keys.encrypt:  # before any data socket: no handshake without it
            from zmq.utils import z85

            self._curve_client = z85.decode(keys.curve_client_public)
            self.register(open_zap(self.ctx), self._on_zap)

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
            msg = loads(body)
        except ValueError:  # not JSON: a plain ping
            msg = {}
        msg = msg if isinstance(msg, dict) else {}
        cmd, signed = msg.get("cmd", "status"), "mac" in msg
        is_open = cmd in _OPEN
        refusal = self._check(msg, open_cmd=is_open) if signed or not is_open else None
        if refusal is None or is_open:  # an open command is answered, signed well or not
            reply = self._answer(cmd)
        else:
            reply = self._refuse_command(cmd, refusal)
        if signed and refusal is None:
            from mesh.runtime.ctrl_auth import proof

            assert self.keys is not None
            reply["proof"] = proof(self.keys.ctrl, msg["nonce"], reply)
        sock.send_multipart([*ident, dumps(reply)])

    def _answer(self, cmd: Any) -> dict[str, Any]:
        """Carry out an open or an authenticated command."""
        if cmd not in _COMMANDS:
            return {"ok": False, "cmd": cmd, "pea": self.name, "error": "BadRequestError",
                    "message": f"unknown command {cmd!r}; commands are {', '.join(_COMMANDS)}"}
        if cmd == "terminate":
            logger.info("terminate received on the control socket, stopping")
            self.running = False
        if cmd == "metrics":  # read-only figures, open like status (README, Metrics)
            return {"ok": True, "cmd": cmd, "pea": self.name, "counts": self.counts,
                    "metrics": self.meter.snapshot() if self.meter is not None else None,
                    **self.status_extra()}
        return {"ok": True, "cmd": cmd, "pea": self.name, "pid": os.getpid(), "time": time.time(),
                "counts": self.counts, **self.status_extra()}

    def _check(self, msg: dict[str, Any], *, open_cmd: bool) -> str | None:
        """Why a signed (or needing to be signed) command is refused, or None."""
        if self._verifier is None:
            from mesh.runtime.ctrl_auth import Verifier

            self._verifier = Verifier(self.keys.ctrl if self.keys else None, pea=self.name,
                                      started=self.started)
        check = self._verifier.unsigned if open_cmd else self._verifier.refusal
        return check(msg)  # type: ignore[no-any-return]

    def _refuse_command(self, cmd: Any, reason: str) -> dict[str, Any]:
        self._warn_refused(f"refused control command {cmd!r}: {reason}")
        return {"ok": False, "cmd": cmd, "pea": self.name, "error": "ForbiddenError",
                "message": f"command {cmd!r} refused: {reason}"}

    def _warn_refused(self, what: str) -> None:
        """One warning per ``_WARN_EVERY_S`` at most: a stranger cannot flood the logs."""
        self._refused += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            logger.warning("%s (%d refused so far)", what, self._refused)
            self._warned_at = now

    def _on_zap(self, sock: zmq.Socket) -> None:
        """ZeroMQ's authentication request for a connection to an encrypted data socket:
        only the Flow's CURVE client key is let in."""
        frames = sock.recv_multipart()
        version, request_id, _domain, address, _identity, mechanism, *credentials = frames
        allowed = mechanism == b"CURVE" and credentials[:1] == [self._curve_client]
        if not allowed:
            self._warn_refused(f"refused a data connection from {address.decode(errors='replace')}: "
                               "not the Flow's CURVE key")
        status = (b"200", b"OK") if allowed else (b"400", b"not a key of this Flow")
        sock.send_multipart([version, request_id, *status, b"", b""])

    def status_extra(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        c = self.counts
        logger.info("terminated (#recv: %d #sent: %d #failed: %d)", c["recv"], c["sent"], c["failed"])
        self.ctx.destroy(linger=0)
