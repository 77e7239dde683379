"""Waiting for Peas to be ready: each one's control socket answers, whatever runs it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import zmq

from mesh.launchers.base import PeaHandle
from mesh.runtime.control import ControlClient

__all__ = ["wait_all_ready"]

_POLL_MS = 20


def wait_all_ready(peas: Sequence[PeaHandle], timeouts_s: Sequence[float]) -> None:
    """Return when every Pea's control socket has answered. Raise the ``start_error`` of the
    first Pea that exits or passes its own deadline, while the others are still waited for:
    a Pea that fails is reported at once, not after a slower one before it is ready."""
    start = time.monotonic()
    poller = zmq.Poller()
    waiting: dict[Any, tuple[PeaHandle, ControlClient, float]] = {}
    try:
        for pea, timeout_s in zip(peas, timeouts_s, strict=True):
            ctrl = ControlClient("127.0.0.1", pea.port_ctrl)
            ctrl.send("status")
            waiting[ctrl.sock] = (pea, ctrl, timeout_s)
            poller.register(ctrl.sock, zmq.POLLIN)
        while waiting:
            for sock, _ in poller.poll(_POLL_MS):
                poller.unregister(sock)
                waiting.pop(sock)[1].close()
            elapsed = time.monotonic() - start
            for pea, _, timeout_s in waiting.values():
                code = pea.returncode
                if code is not None:
                    raise pea.start_error(f"exited with code {code} before it was ready")
                if elapsed > timeout_s:
                    raise pea.start_error(f"was not ready within {timeout_s:g} s")
    finally:
        for _, ctrl, _ in waiting.values():
            ctrl.close()
