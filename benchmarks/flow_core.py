"""Issue 2's figures for a Flow of two pods: docs/s and single-doc latency from a Client in
another process, and the Flow's ready and close times."""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.context import Context
from benchmarks.load import emit_load, load
from benchmarks.report import median
from mesh import Flow

__all__ = ["run", "start_close_times"]

LIMIT = "zmq_chain"


def _two_pods(uses: str) -> Flow:
    return Flow(name="bench").add(uses=uses).add(uses=uses)


def start_close_times(make: Callable[[], Flow], cycles: int) -> tuple[list[float], list[float]]:
    """Seconds to start (until ready) and to close a fresh Flow from ``make``, ``cycles`` times."""
    ready, closed = [], []
    for _ in range(cycles):
        flow = make()
        t0 = time.perf_counter()
        try:
            flow.start()
            ready.append(time.perf_counter() - t0)
        finally:
            t0 = time.perf_counter()
            flow.close()
        closed.append(time.perf_counter() - t0)
    return ready, closed


def run(ctx: Context, name: str, *, uses: str) -> None:
    cycles = ctx.pick(5, 2)
    ready, closed = start_close_times(lambda: _two_pods(uses), cycles)
    flow = _two_pods(uses)
    ctx.stack.callback(flow.close)
    with flow:
        result = load(ctx, "mesh", flow.port_expose)
    emit_load(ctx, name, result, limit_of=LIMIT, uses=uses, pods=2, processes=4)
    for metric, samples in (("ready_s", ready), ("close_s", closed)):
        ctx.report.emit(name, metric, median(samples), "s",
                        params={"uses": uses, "pods": 2, "cycles": cycles,
                                "samples_s": [round(s, 4) for s in samples]})
