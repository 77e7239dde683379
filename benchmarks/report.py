"""One JSON line per measurement on stdout, and the statistics behind the figures."""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["Report", "median", "percentile", "summary_ms"]

_DIGITS = {"ms": 3, "s": 4, "docs/s": 0, "MiB": 1}


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..100, of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean, min and max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99),
            "mean": statistics.fmean(ms), "min": min(ms), "max": max(ms)}


def _rounded(value: float | None, unit: str | None) -> float | None:
    if value is None:
        return None
    digits = _DIGITS.get(unit or "", 4)
    return round(float(value), digits) if digits else float(round(value))


class Report:
    """Prints measurements as they are taken and remembers them, so that a later
    measurement can quote a raw limit taken earlier in the same run."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.lines: list[dict[str, Any]] = []

    def emit(self, bench: str, metric: str, value: float | None, unit: str | None, *,
             limit: float | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        line = {"bench": bench, "metric": metric, "value": _rounded(value, unit), "unit": unit,
                "limit": _rounded(limit, unit), "params": params or {}}
        self.lines.append(line)
        print(json.dumps(line), file=self.out, flush=True)
        return line

    def value(self, bench: str, metric: str) -> float | None:
        """A figure measured earlier in this run, or None."""
        for line in reversed(self.lines):
            if line["bench"] == bench and line["metric"] == metric:
                return line["value"]  # type: ignore[no-any-return]
        return None
