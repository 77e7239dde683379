"""ZeroMQ sockets of a Pea, opened from SocketSpecs."""

from __future__ import annotations

import zmq

from mesh.errors import PeaStartError
from mesh.net.interfaces import ipv4_of
from mesh.runtime.config import SocketSpec
from mesh.runtime.keys import MeshKeys

__all__ = ["HWM", "bind_port", "open_socket", "open_zap"]

HWM = 10_000
ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # where libzmq sends its authentication requests
ZAP_DOMAIN = b"mesh"


def open_socket(ctx: zmq.Context, kind: int, spec: SocketSpec, *, owner: str,
                keys: MeshKeys | None = None) -> zmq.Socket:
    """A data socket; with ``keys.encrypt``, CURVE: a bound one is the server, whose clients
    the Pea's ZAP handler checks (:func:`open_zap`), a connecting one a client of it."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.setsockopt(zmq.RECONNECT_IVL, 20)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
    if keys is not None and keys.encrypt:
        _curve(sock, keys, server=spec.mode == "bind")
    if spec.mode == "bind":
        assert spec.port is not None
        bind_port(sock, spec.port, owner=owner)
    else:
        for address in spec.addresses:
            sock.connect(f"tcp://{_resolve(address)}")
    return sock


def _curve(sock: zmq.Socket, keys: MeshKeys, *, server: bool) -> None:
    if server:
        sock.curve_server = True
        sock.curve_secretkey = keys.curve_server_secret.encode()
        sock.zap_domain = ZAP_DOMAIN
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler: refuse, never admit
    else:
        sock.curve_serverkey = keys.curve_server_public.encode()
        sock.curve_publickey = keys.curve_client_public.encode()
        sock.curve_secretkey = keys.curve_client_secret.encode()


def open_zap(ctx: zmq.Context) -> zmq.Socket:
    """The socket on which libzmq asks this process whether a CURVE client may connect."""
    zap = ctx.socket(zmq.REP)
    zap.setsockopt(zmq.LINGER, 0)
    zap.bind(ZAP_ENDPOINT)
    return zap


_DOCKER_BRIDGE = "docker-bridge:"  # mesh.flow.addresses.DOCKER_BRIDGE


def resolve_address(address: str) -> str:
    """``host:port`` as a dialling Pea resolves it (see :func:`_resolve`)."""
    return _resolve(address)


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
