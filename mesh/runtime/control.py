"""Talking to a Pea's control socket: status, terminate, ping.

``status`` and ``ping`` need no key (``mesh ping``). Any other command is signed with the
Flow's control key for the Pea it is meant for (:mod:`mesh.runtime.ctrl_auth`); a client
given the key signs status too, and then takes an answer only from a holder of the key.
"""

from __future__ import annotations

from typing import Any

import zmq

from mesh.errors import ForbiddenError, MeshError, RequestTimeoutError
from mesh.types.codec import dumps, loads

__all__ = ["ControlClient", "ctrl_request"]


class ControlClient:
    """A DEALER on one control port; ZeroMQ keeps dialling until the Pea binds.

    ``key`` (the Flow's ``MeshKeys.ctrl``) and ``pea`` (the name of the Pea on that port)
    are needed for every command but status and ping."""

    def __init__(self, host: str, port: int, *, key: str | None = None, pea: str | None = None,
                 ctx: zmq.Context | None = None) -> None:
        self.address = f"tcp://{host}:{port}"
        self.key, self.pea = key, pea
        self._ctx = ctx or zmq.Context.instance()
        self._sent: dict[str, Any] | None = None
        self.sock = self._ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 20)  # notice a starting Pea within 20 ms
        self.sock.connect(self.address)

    def send(self, cmd: str) -> None:
        if self.key is None or self.pea is None:
            if cmd not in ("status", "ping", "metrics"):
                raise ForbiddenError(f"{cmd!r} to {self.address} needs the Flow's control key "
                                     "and the Pea's name; only status and ping need none")
            self._sent = {"cmd": cmd}
        else:
            from mesh.runtime.ctrl_auth import sign

            self._sent = sign(self.key, cmd, pea=self.pea)
        self.sock.send(dumps(self._sent))

    def poll(self, timeout_s: float) -> dict[str, Any] | None:
        """The answer, or None after ``timeout_s``. Sent with a key, an answer that does not
        prove the key is a ForbiddenError (something else answers on that port), unless it
        is a refusal, returned as it came."""
        if not self.sock.poll(int(timeout_s * 1000)):
            return None
        reply: dict[str, Any] = loads(self.sock.recv())
        sent = self._sent
        if self.key is not None and sent is not None and "mac" in sent and reply.get("ok") is not False:
            from mesh.runtime.ctrl_auth import check_proof

            if not check_proof(self.key, sent, reply):
                raise ForbiddenError(
                    f"the answer on {self.address} does not prove the Flow's key: the process "
                    f"there is not {self.pea!r} of this Flow", detail={"address": self.address})
        return reply

    def close(self) -> None:
        self.sock.close(0)


def ctrl_request(host: str, port: int, cmd: str = "status", *, timeout_s: float = 3.0,
                 key: str | None = None, pea: str | None = None) -> dict[str, Any]:
    """Send ``cmd`` and return the answer; a refusal is raised as the error it names."""
    client = ControlClient(host, port, key=key, pea=pea)
    try:
        client.send(cmd)
        reply = client.poll(timeout_s)
    finally:
        client.close()
    if reply is None:
        raise RequestTimeoutError(f"no answer from {client.address} within {timeout_s:g} s")
    if reply.get("ok") is False:
        raise MeshError.from_dict(reply)
    return reply
