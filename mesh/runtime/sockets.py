"""ZeroMQ sockets of a Pea, opened from SocketSpecs."""

from __future__ import annotations

import zmq

from mesh.errors import PeaStartError
from mesh.net.interfaces import ipv4_of
from mesh.runtime.config import SocketSpec

__all__ = ["HWM", "bind_port", "open_socket"]

HWM = 10_000


def open_socket(ctx: zmq.Context, kind: int, spec: SocketSpec, *, owner: str) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.setsockopt(zmq.RECONNECT_IVL, 20)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
    if spec.mode == "bind":
        assert spec.port is not None
        bind_port(sock, spec.port, owner=owner)
    else:
        for address in spec.addresses:
            sock.connect(f"tcp://{_resolve(address)}")
    return sock


_DOCKER_BRIDGE = "docker-bridge:"  # mesh.flow.addresses.DOCKER_BRIDGE


def _resolve(address: str) -> str:
    """The Docker bridge placeholder becomes this machine's docker0 address (the loopback
    where there is none: then Docker's userland proxy forwards it, more slowly)."""
    if address.startswith(_DOCKER_BRIDGE):
        return f"{ipv4_of('docker0') or '127.0.0.1'}:{address[len(_DOCKER_BRIDGE):]}"
    return address


def bind_port(sock: zmq.Socket, port: int, *, owner: str, host: str = "0.0.0.0") -> None:
    try:
        sock.bind(f"tcp://{host}:{port}")
    except zmq.ZMQError as exc:
        sock.close(0)
        raise PeaStartError(
            f"{owner}: cannot bind port {port}: {exc.strerror}; another process uses it, "
            "choose another port or leave it unset to get a free one",
            detail={"port": port},
        ) from exc
