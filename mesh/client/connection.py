"""Whether a Client's connection to the gateway is up, from ZeroMQ's socket monitor.

ZeroMQ hides connections: a DEALER whose gateway went away keeps waiting for
answers that will not come, and one pointed at a port where nothing listens
keeps dialling. The monitor tells the Client so that it can raise instead.
"""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from mesh.errors import BadRequestError

__all__ = ["ConnectionWatch", "refuse_http_port"]

# ZMTP 3's greeting starts with this signature, and a gateway sends its own at once; an HTTP
# server waits for the end of a header block, then answers ``HTTP/1.1 400``
_PROBE = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\r\n\r\n"
PROBE_TIMEOUT_S = 1.0


def refuse_http_port(host: str, port: int, *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise when an HTTP server (such as a jinad edge) answers on ``host:port``; pass when a
    ZeroMQ peer answers, when nothing listens yet, or when the peer stays silent."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as probe:
            probe.sendall(_PROBE)
            first = probe.recv(5)
    except OSError:
        return  # not listening yet, or silent: the ConnectionWatch's deadline applies
    if first.startswith(b"HTTP/"):
        raise BadRequestError(
            f"tcp://{host}:{port} is a jinad edge, not a Flow's gateway; use GET /flow/{{id}}'s "
            "host and port (the gateway's ZeroMQ port_expose)", detail={"host": host, "port": port})

_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED
_ids = itertools.count()


class ConnectionWatch:
    """Follows one socket's connection; :meth:`problem` says why answers cannot come."""

    def __init__(self, sock: Any, address: str, *, connect_timeout_s: float | None) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._sock = sock
        endpoint = f"inproc://mesh-client-monitor-{id(self)}-{next(_ids)}"
        sock.monitor(endpoint, _EVENTS)
        ctx: zmq.Context[Any] = zmq.Context.shadow(sock.context.underlying)  # sync, for asyncio too
        self._monitor = ctx.socket(zmq.PAIR)
        self._monitor.setsockopt(zmq.LINGER, 0)
        self._monitor.connect(endpoint)
        self.connected = False
        self._lost = False
        self._since = time.monotonic()

    def begin(self) -> None:
        """A new call: a connection lost before it does not concern its requests."""
        self._drain()
        self._lost = False
        self._since = time.monotonic()

    def problem(self, pending: int) -> str | None:
        self._drain()
        if self._lost and pending:
            return f"the gateway at {self.address} closed the connection"
        timeout = self.connect_timeout_s
        if not self.connected and timeout is not None and time.monotonic() - self._since > timeout:
            return f"cannot connect to the gateway at {self.address} within {timeout:g} s"
        return None

    def _drain(self) -> None:
        while True:
            try:
                message = self._monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            event = parse_monitor_message(message)["event"]
            if event == zmq.EVENT_CONNECTED:
                self.connected = True
            elif event == zmq.EVENT_DISCONNECTED:
                self._lost = self._lost or self.connected
                self.connected = False

    def close(self) -> None:
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(0)
