"""Free TCP ports chosen by the OS, not handed out twice in a row by this process."""

from __future__ import annotations

import collections
import socket
import threading

__all__ = ["free_port", "mark_given"]

_RECENT = 8192
_given: collections.deque[int] = collections.deque(maxlen=_RECENT)
_given_set: set[int] = set()
_lock = threading.Lock()


def mark_given(ports: list[int]) -> None:
    """Ports chosen elsewhere (a jinad reserved them for its Peas) that this process must not
    hand out: when that jinad runs on this machine, they share one port space."""
    with _lock:
        for port in ports:
            if port not in _given_set:
                _remember(port)


def free_port(host: str = "0.0.0.0") -> int:
    """A port nothing listens on now, and that this process has not given out recently."""
    with _lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
            if port not in _given_set:
                _remember(port)
                return port
    raise RuntimeError("no free port found")


def _remember(port: int) -> None:
    """Note ``port`` as given (the oldest one is forgotten when the memory is full)."""
    if len(_given) == _RECENT:
        _given_set.discard(_given[0])
    _given.append(port)
    _given_set.add(port)
