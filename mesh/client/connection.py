"""Whether a Client's connection to the gateway is up, from ZeroMQ's socket monitor.

ZeroMQ hides connections: a DEALER whose gateway went away keeps waiting for
answers that will not come, and one pointed at a port where nothing listens
keeps dialling. The monitor tells the Client so that it can raise instead.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

__all__ = ["ConnectionWatch"]

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
        while self._monitor.poll(0):
            event = parse_monitor_message(self._monitor.recv_multipart())["event"]
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
