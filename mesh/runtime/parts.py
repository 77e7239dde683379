"""Collecting the parts of one request that several upstreams send."""

from __future__ import annotations

import time
from collections.abc import Sequence

from mesh.executors.dispatch import RESULTS_KEY
from mesh.executors.reduce import merge_by_id
from mesh.types.request import Request

__all__ = ["PartCollector", "merge_headers"]


class PartCollector:
    """Holds parts by request id until ``num_parts`` of them have arrived."""

    def __init__(self, num_parts: int) -> None:
        self.num_parts = num_parts
        self._pending: dict[str, list[Request]] = {}
        self._first_seen: dict[str, float] = {}

    def add(self, req: Request) -> list[Request] | None:
        """Return every part once the last one arrives, else None."""
        if self.num_parts <= 1:
            return [req]
        parts = self._pending.setdefault(req.id, [])
        if not parts:
            self._first_seen[req.id] = time.monotonic()
        parts.append(req)
        if len(parts) < self.num_parts:
            return None
        del self._pending[req.id]
        del self._first_seen[req.id]
        return parts

    def __len__(self) -> int:
        return len(self._pending)


def merge_headers(parts: Sequence[Request]) -> Request:
    """One request from several parts: routes and results joined, the first failure kept, docs merged."""
    first = parts[0]
    if len(parts) == 1:
        return first
    seen = {(e["pea"], e["start"]) for e in first.route}
    for part in parts[1:]:
        for entry in part.route:
            key = (entry["pea"], entry["start"])
            if key not in seen:
                seen.add(key)
                first.route.append(entry)
        if part.failed and not first.failed:
            first.header["status"] = part.status
        results = part.parameters.get(RESULTS_KEY)
        if results:  # what each branch's executors returned as a dict, by pod
            first.parameters.setdefault(RESULTS_KEY, {}).update(results)
    first.route.sort(key=lambda e: e["start"])
    first.docs = merge_by_id([p.docs for p in parts])
    return first
