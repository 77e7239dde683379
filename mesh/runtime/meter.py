"""A Pea's own figures per endpoint, in plain ints and floats: the Pea loop adds to them with
a few dict and list operations per request, and imports nothing to do so (a Pea's start time
matters). Its node asks for them with the ``metrics`` control command at scrape time and
turns them into Prometheus metrics (:mod:`mesh.agents.metrics`).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

__all__ = ["BUCKETS_S", "MAX_ENDPOINTS", "OTHER", "Meter"]

# upper bounds of the latency histogram, in seconds (Prometheus's ``le``); the last is +Inf
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_ENDPOINTS = 64  # endpoints are the clients' strings: past this many, they count as OTHER
OTHER = "_other"
_REQ, _FAILED, _IN, _OUT, _DOCS, _SUM, _BUCKETS = range(7)


class Meter:
    """Requests, failed requests, bytes in and out, Documents and a latency histogram,
    by endpoint."""

    __slots__ = ("endpoints",)

    def __init__(self) -> None:
        self.endpoints: dict[str, list[Any]] = {}

    def observe(self, endpoint: str, seconds: float, *, failed: bool, bytes_in: int,
                bytes_out: int, docs: int) -> None:
        row = self.endpoints.get(endpoint)
        if row is None:
            row = self._row(endpoint)
        row[_REQ] += 1
        if failed:
            row[_FAILED] += 1
        row[_IN] += bytes_in
        row[_OUT] += bytes_out
        row[_DOCS] += docs
        row[_SUM] += seconds
        row[_BUCKETS][bisect_left(BUCKETS_S, seconds)] += 1

    def _row(self, endpoint: str) -> list[Any]:
        if len(self.endpoints) >= MAX_ENDPOINTS:
            endpoint = OTHER
            if endpoint in self.endpoints:
                return self.endpoints[endpoint]
        row: list[Any] = [0, 0, 0, 0, 0, 0.0, [0] * (len(BUCKETS_S) + 1)]
        self.endpoints[endpoint] = row
        return row

    def snapshot(self) -> dict[str, Any]:
        """What the ``metrics`` command answers: per endpoint, non-cumulative bucket counts."""
        return {"buckets_s": list(BUCKETS_S), "endpoints": {
            ep: {"requests": r[_REQ], "failed": r[_FAILED], "bytes_in": r[_IN],
                 "bytes_out": r[_OUT], "docs": r[_DOCS], "seconds_sum": r[_SUM],
                 "buckets": list(r[_BUCKETS])} for ep, r in self.endpoints.items()}}
