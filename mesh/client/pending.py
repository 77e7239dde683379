"""The requests of one Client call that await their answers, and the error when they cannot
come: a Pea of the Flow died, the gateway is gone or unreachable, or nothing answered
within the Client's ``timeout_s``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mesh.client.connection import ConnectionWatch
from mesh.errors import RequestTimeoutError, UnavailableError

__all__ = ["DEFAULT_TIMEOUT_S", "HealthCheck", "Pending"]

HealthCheck = Callable[[], str | None]  # what stopped (Flow.health), or None while all runs
DEFAULT_TIMEOUT_S = 60.0  # the longest wait for the next answer; None: wait for ever


class Pending:
    """Request ids in the order they were sent, and the time of the last answer."""

    def __init__(self, *, endpoint: str, watch: ConnectionWatch, timeout_s: float | None,
                 health_check: HealthCheck | None) -> None:
        self.endpoint, self.watch = endpoint, watch
        self.timeout_s, self.health_check = timeout_s, health_check
        self._ids: dict[str, None] = {}
        self._last = time.monotonic()  # the first answer is waited for from the call's start

    def __len__(self) -> int:
        return len(self._ids)

    def sent(self, request_id: str) -> None:
        self._ids[request_id] = None

    def answered(self, request_id: str) -> bool:
        """False for an answer to no request of this call (a late one to an earlier call)."""
        if request_id not in self._ids:
            return False
        del self._ids[request_id]
        self._last = time.monotonic()
        return True

    def check(self) -> None:
        """Raise when the pending requests will not be answered, naming why."""
        pending = len(self._ids)
        problem = self.health_check() if self.health_check else None
        problem = problem or self.watch.problem(pending)
        if problem:
            raise UnavailableError(f"{problem}; {pending} request(s) will not be answered "
                                   f"(calls to {self.endpoint} through {self.watch.address})",
                                   detail=self._detail())
        waited_s = time.monotonic() - self._last
        if self.timeout_s is not None and waited_s > self.timeout_s:
            raise RequestTimeoutError(
                f"no answer from the gateway at {self.watch.address} within timeout_s="
                f"{self.timeout_s:g} s (request {self._oldest()} to {self.endpoint}, {pending} "
                f"pending); {self._hint()}", detail=self._detail())

    def _oldest(self) -> str:
        return next(iter(self._ids), "")

    def _hint(self) -> str:
        if not self.watch.connected:
            return "the gateway is not connected"
        if self.health_check is not None:
            return ("every Pea of the Flow on this machine is running, so a pod is slower than "
                    "that or lost the request: raise timeout_s (None waits for ever)")
        return ("the gateway is connected, so a Pea of the Flow died or is slower than that: "
                "check its pods, or raise timeout_s (None waits for ever)")

    def _detail(self) -> dict[str, Any]:
        return {"address": self.watch.address, "endpoint": self.endpoint,
                "pending": len(self._ids), "request_id": self._oldest(), "timeout_s": self.timeout_s}
