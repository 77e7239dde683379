"""Waiting for Peas to be ready: each one's control socket answers, whatever runs it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import zmq

from mesh.errors import ForbiddenError
from mesh.launchers.base import PeaHandle
from mesh.runtime.control import ControlClient

__all__ = ["ctrl_keys", "wait_all_ready"]

_POLL_MS = 20


def wait_all_ready(peas: Sequence[PeaHandle], timeouts_s: Sequence[float], *,
                   keys: Sequence[str | None] | None = None) -> None:
    """Return when every Pea's control socket has answered. Raise the ``start_error`` of the
    first Pea that exits or passes its own deadline, while the others are still waited for:
    a Pea that fails is reported at once, not after a slower one before it is ready.

    ``keys``, the control key of each Pea's Flow (``cfg.keys.ctrl``): the status request is
    signed, and only an answer proving the key counts, so that another process answering on
    a Pea's port is not taken for the Pea."""
    start = time.monotonic()
    poller = zmq.Poller()
    waiting: dict[Any, tuple[PeaHandle, ControlClient, float]] = {}
    try:
        for pea, timeout_s, key in zip(peas, timeouts_s, keys or [None] * len(peas), strict=True):
            ctrl = ControlClient("127.0.0.1", pea.port_ctrl, key=key, pea=pea.name)
            ctrl.send("status")
            waiting[ctrl.sock] = (pea, ctrl, timeout_s)
            poller.register(ctrl.sock, zmq.POLLIN)
        while waiting:
            for sock, _ in poller.poll(_POLL_MS):
                poller.unregister(sock)
                pea, ctrl, _ = waiting.pop(sock)
                try:
                    reply = ctrl.poll(0)
                except ForbiddenError as exc:
                    raise pea.start_error(exc.message) from exc
                finally:
                    ctrl.close()
                if reply is not None and reply.get("ok") is False:
                    raise pea.start_error(f"refused the ready wait: {reply.get('message')}")
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


def ctrl_keys(configs: Sequence[Any]) -> list[str | None]:
    """The control keys of Pea configs (None for a config planned without keys), in order:
    the ready wait then accepts only a Pea that proves it holds its Flow's key."""
    return [cfg.keys.ctrl if getattr(cfg, "keys", None) else None for cfg in configs]
