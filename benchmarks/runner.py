"""``python -m benchmarks [--quick] [--only NAME[,NAME...]]``: run the benchmarks in order.

Prints one JSON line per measurement on stdout (the products' own logs go to stderr),
then a ``summary`` line with the targets of issues 2, 3 and 4 beside what was measured.
Every process the run starts carries its mark; whatever is left at the end is killed
and named in the summary.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.context import Context
from benchmarks.procs import command, leftovers, mark_run
from benchmarks.report import Report

__all__ = ["BENCHES", "main"]


class Bench(NamedTuple):
    module: str
    kwargs: dict[str, Any]
    about: str


# In this order: a raw limit runs before the figures that quote it.
BENCHES: dict[str, Bench] = {
    "zmq_chain": Bench("benchmarks.zmq_chain", {}, "issue 2 limit: pure pyzmq chain"),
    "flow_pass": Bench("benchmarks.flow_core", {"uses": "_pass"}, "Flow of two _pass pods"),
    "flow_read": Bench("benchmarks.flow_core", {"uses": "benchmarks.executors:ReadText"},
                       "Flow of two pods that read every Document's text"),
    "columns": Bench("benchmarks.columns_flow", {},
                     "batch data path: text, per-doc and matrix embedding workloads through two "
                     "pods beside the raw chain moving the same bytes (and Ray when installed)"),
    "flow_encrypt": Bench("benchmarks.flow_encrypt", {},
                          "Flow of two _pass pods, data sockets plain and CURVE, interleaved"),
    "flow_metrics": Bench("benchmarks.flow_metrics", {},
                          "Flow of two _pass pods, Peas' metrics off and on, interleaved"),
    "nats_rr": Bench("benchmarks.nats_rr", {}, "issue 3 limit: NATS request/reply"),
    "jinad_rss": Bench("benchmarks.jinad_rss", {}, "idle jinad and nats-server RSS"),
    "jinad_flow": Bench("benchmarks.jinad_flow", {}, "PUT /flow/yaml, 3 pods, one jinad"),
    "signing": Bench("benchmarks.signing", {}, "signing and verifying commands beside a Flow's start"),
    "scrape": Bench("benchmarks.scrape", {}, "GET /metrics of a node running 20 Peas"),
    "log_latency": Bench("benchmarks.log_latency", {}, "Pea log line to jinad.logs.> subscriber"),
    "jinad_netns": Bench("benchmarks.jinad_netns", {},
                         "PUT /flow/yaml, 3 pods on 3 jinads in network namespaces"),
    "dashboard": Bench("benchmarks.dashboard", {},
                       "GET /ui in headless Chromium, 10 nodes and 5 Flows: first paint, drawn"),
    "recovery": Bench("benchmarks.recovery", {},
                      "a killed Pea and a restarted jinad, each until the Flow answers again, "
                      "with a request loop running"),
    "container": Bench("benchmarks.bench_container", {},
                       "container Pea ready time; 3-pod Flow with its middle pod in a container "
                       "beside the same Flow in processes"),
}

# (bench, metric, comparison, target) from the issues' "Speed" sections. Issue 3's Flow
# target is for 3 nodes (jinad_netns); jinad_flow, one node, is held to it as well. Issue 4:
# a container Pea ready in <= 1.5 s, the container Flow within 15% of the process Flow.
TARGETS = [
    ("flow_pass", "docs_per_s", ">=", 60_000),
    ("flow_pass", "latency_p50_ms", "<=", 1.5),
    ("flow_pass", "ready_s", "<=", 0.5),
    ("jinad_flow", "put_flow_s", "<=", 1.0),
    ("jinad_netns", "put_flow_s", "<=", 1.0),
    ("log_latency", "latency_p50_ms", "<=", 2.9),  # issue 9: within 2 ms of the 0.9 ms before buffering
    ("signing", "put_overhead_ratio", "<=", 1.10),
    ("flow_metrics", "docs_per_s_ratio", ">=", 0.95),
    ("columns", "matrix_to_raw_bytes_ratio", ">=", 0.25),  # the batch data path issue
    ("columns", "single_p50_ratio", "<=", 1.5),
    ("flow_metrics", "latency_p50_ratio", "<=", 1.05),
    ("jinad_rss", "jinad_rss_mib", "<=", 80.0),
    ("recovery", "pea_recovery_s", "<=", 2.0),  # the self-managing mesh issue
    ("container", "ready_s", "<=", 1.5),
    ("container", "docs_per_s_ratio", ">=", 0.85),
]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure jinad mesh beside raw pyzmq and NATS; one JSON line per figure.")
    p.add_argument("--quick", action="store_true", help="smaller samples (about 30 s in all)")
    p.add_argument("--only", metavar="NAME", action="append", default=[],
                   help=f"run only these (repeat or comma-separate): {', '.join(BENCHES)}")
    args = p.parse_args(argv)
    names = [n for item in args.only for n in item.split(",") if n]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    args.names = [n for n in BENCHES if n in names] if names else list(BENCHES)
    return args


def _run_one(ctx: Context, name: str) -> str:
    """'ok', or 'failed' after an ``error`` line; 'skipped' is reported by the bench."""
    bench = BENCHES[name]
    before = len(ctx.report.lines)
    try:
        importlib.import_module(bench.module).run(ctx, name, **bench.kwargs)
    except Exception as exc:  # noqa: BLE001 - one failed benchmark must not stop the others
        traceback.print_exc(file=sys.stderr)
        ctx.report.emit(name, "error", None, None, params={"error": f"{type(exc).__name__}: {exc}"})
        return "failed"
    if any(line["metric"] == "skipped" for line in ctx.report.lines[before:]):
        return "skipped"
    return "ok"


def _targets(report: Report) -> list[dict[str, Any]]:
    out = []
    for bench, metric, op, target in TARGETS:
        value = report.value(bench, metric)
        if value is None:
            continue
        met = value >= target if op == ">=" else value <= target
        out.append({"bench": bench, "metric": metric, "target": f"{op} {target}",
                    "value": value, "met": met})
    return out


def _sigterm_interrupts() -> None:
    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)


def _stop_leftovers(token: str, grace_s: float = 5.0) -> list[str]:
    """SIGTERM what this run left (a jinad then stops its own nats-server and Peas), wait,
    SIGKILL the rest; ``pid command`` of each found first."""
    found = [f"{pid} {command(pid)}" for pid in leftovers(token)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in leftovers(token):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while leftovers(token) and time.monotonic() < deadline:
            time.sleep(0.05)
    return found


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    token = mark_run()
    _sigterm_interrupts()
    report = Report()
    status: dict[str, str] = {}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmp, ExitStack() as stack:
            ctx = Context(quick=args.quick, report=report, tmp=Path(tmp), stack=stack)
            for name in args.names:
                status[name] = "interrupted"  # until it returns
                status[name] = _run_one(ctx, name)
    except KeyboardInterrupt:
        print("benchmarks: interrupted; everything started was stopped", file=sys.stderr)
    finally:
        left = _stop_leftovers(token)
        report.emit("summary", "elapsed_s", time.monotonic() - started, "s", params={
            "mode": "quick" if args.quick else "full", "benches": status,
            "measurements": sum(1 for line in report.lines
                                if line["metric"] not in ("error", "skipped")),
            "targets": _targets(report), "leftover_pids": left})
    if "interrupted" in status.values():
        return 130
    return 1 if left or "failed" in status.values() else 0
