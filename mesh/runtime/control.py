"""Talking to a Pea's control socket: status, terminate, ping."""

from __future__ import annotations

from typing import Any

import zmq

from mesh.errors import RequestTimeoutError
from mesh.types.codec import dumps, loads

__all__ = ["ControlClient", "ctrl_request"]


class ControlClient:
    """A DEALER on one control port; ZeroMQ keeps dialling until the Pea binds."""

    def __init__(self, host: str, port: int, *, ctx: zmq.Context | None = None) -> None:
        self.address = f"tcp://{host}:{port}"
        self._ctx = ctx or zmq.Context.instance()
        self.sock = self._ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 20)  # notice a starting Pea within 20 ms
        self.sock.connect(self.address)

    def send(self, cmd: str) -> None:
        self.sock.send(dumps({"cmd": cmd}))

    def poll(self, timeout_s: float) -> dict[str, Any] | None:
        if self.sock.poll(int(timeout_s * 1000)):
            return loads(self.sock.recv())  # type: ignore[no-any-return]
        return None

    def close(self) -> None:
        self.sock.close(0)


def ctrl_request(host: str, port: int, cmd: str = "status", *, timeout_s: float = 3.0) -> dict[str, Any]:
    client = ControlClient(host, port)
    try:
        client.send(cmd)
        reply = client.poll(timeout_s)
    finally:
        client.close()
    if reply is None:
        raise RequestTimeoutError(f"no answer from {client.address} within {timeout_s:g} s")
    return reply
