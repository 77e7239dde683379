"""A one-line progress display for long sends."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, *, enabled: bool, total: int | None = None) -> None:
        self.enabled = enabled
        self.total = total
        self.docs = 0
        self.requests = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, num_docs: int) -> None:
        self.docs += num_docs
        self.requests += 1
        now = time.perf_counter()
        if self.enabled and now - self._last > 0.2:
            self._last = now
            rate = self.docs / max(now - self.start, 1e-9)
            sys.stderr.write(f"\r⏳ {self.requests} requests, {self.docs} docs, {rate:,.0f} docs/s ")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            took = time.perf_counter() - self.start
            rate = self.docs / max(took, 1e-9)
            sys.stderr.write(f"\r✅ done in ⏱ {took:.2f} s 🐎 {rate:,.1f} docs/s ({self.requests} requests)\n")
