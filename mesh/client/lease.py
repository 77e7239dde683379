"""Keeping remote pods alive: a pod created with a lease is removed by its node unless its
creator renews the lease. One thread renews every pod it holds, every third of the lease."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mesh.client.edge import EdgeClient
from mesh.errors import MeshError, NotFoundError

__all__ = ["LeaseKeeper"]

logger = logging.getLogger(__name__)

Notice = Callable[[str, str], None]  # (pod_id, what happened)


def _log_warning(pod_id: str, text: str) -> None:
    logger.warning("%s", text)


class LeaseKeeper:
    """``add(edge, pod_id)`` pods, ``start()``, ``stop()``. A pod its node no longer has
    (``on_gone``) or whose node was out of reach for longer than the lease (``on_lost``: the
    node removes it meanwhile) is dropped; other failures are passed to ``warn`` and retried."""

    def __init__(self, *, lease_s: float, on_gone: Notice | None = None,
                 on_lost: Notice | None = None, warn: Notice = _log_warning) -> None:
        self.lease_s = lease_s
        self.on_gone, self.on_lost, self.warn = on_gone, on_lost, warn
        self._pods: dict[str, tuple[EdgeClient, float]] = {}  # pod_id -> (edge, last renewal)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, edge: EdgeClient, pod_id: str) -> None:
        with self._lock:
            self._pods[pod_id] = (edge, time.monotonic())

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                pods = list(self._pods.items())
            for pod_id, (edge, last_ok) in pods:
                if self._stop.is_set():
                    return
                self._renew(pod_id, edge, last_ok)

    def _renew(self, pod_id: str, edge: EdgeClient, last_ok: float) -> None:
        try:
            edge.renew_pod(pod_id, self.lease_s)
        except NotFoundError:
            self._drop(pod_id, self.on_gone, f"remote pod {pod_id} was removed from its node")
        except MeshError as exc:
            if self._stop.is_set():
                return
            if time.monotonic() - last_ok > self.lease_s:
                self._drop(pod_id, self.on_lost,
                           f"lost jinad at {edge.base} for more than the pod's lease "
                           f"({self.lease_s:g} s), so its node removes the pod: {exc.message}")
            else:
                self.warn(pod_id, f"lease of remote pod {pod_id} not renewed: {exc.message}")
        else:
            with self._lock:
                if pod_id in self._pods:
                    self._pods[pod_id] = (edge, time.monotonic())

    def _drop(self, pod_id: str, notice: Notice | None, text: str) -> None:
        with self._lock:
            self._pods.pop(pod_id, None)
        if not self._stop.is_set():
            (notice or self.warn)(pod_id, text)
