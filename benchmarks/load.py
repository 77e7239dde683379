"""Running the client process (:mod:`benchmarks.loadgen`) and reporting what it measured."""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context
from benchmarks.procs import Child, python_module
from benchmarks.report import median

__all__ = ["emit_load", "load", "load_pair"]

DOCS = 10_000
REQUEST_SIZE = 100
WINDOW = 64  # the Client's default prefetch


def load(ctx: Context, kind: str, port: int, *, rounds: int | None = None,
         samples: int | None = None) -> dict[str, Any]:
    """Run the client process against ``port`` and return what it measured (``rounds`` of
    DOCS Documents and ``samples`` single-Document round trips; by default the mode's)."""
    rounds, samples = rounds or ctx.pick(10, 2), samples or ctx.pick(500, 100)
    client = Child(python_module("benchmarks.loadgen", kind, "--port", str(port), "--docs",
                                 str(DOCS), "--request-size", str(REQUEST_SIZE), "--rounds",
                                 str(rounds), "--latency-samples", str(samples), "--window",
                                 str(WINDOW)), name=f"{kind}-client")
    ctx.stack.callback(client.stop)
    result = client.result(timeout_s=120)
    result["params"] = {"docs": DOCS, "request_size": REQUEST_SIZE, "rounds": rounds,
                        "latency_samples": samples, "window": WINDOW}
    return result


def load_pair(ctx: Context, ports: list[int], *, rounds: int, samples: int) -> list[dict[str, Any]]:
    """The client process driving the Flows on ``ports`` in turn (``loadgen mesh-pair``);
    what it measured for each, in the order of ``ports``."""
    client = Child(python_module("benchmarks.loadgen", "mesh-pair",
                                 *(a for p in ports for a in ("--port", str(p))), "--docs",
                                 str(DOCS), "--request-size", str(REQUEST_SIZE), "--rounds",
                                 str(rounds), "--latency-samples", str(samples), "--window",
                                 str(WINDOW)), name="pair-client")
    ctx.stack.callback(client.stop)
    return list(client.result(timeout_s=300)["by_port"])


def emit_load(ctx: Context, name: str, result: dict[str, Any], *, limit_of: str | None,
              **params: Any) -> None:
    """docs/s (median of the rounds) and single-message p50/p99, each beside the limit's."""
    rates = list(result["docs_per_s"])
    lat = dict(result["latency_ms"])
    base = {**dict(result["params"]), **params}
    extra: dict[str, Any] = {k: result[k] for k in ("message_bytes", "single_bytes") if k in result}

    def limit(metric: str) -> float | None:
        return ctx.report.value(limit_of, metric) if limit_of else None

    ctx.report.emit(name, "docs_per_s", median(rates), "docs/s", limit=limit("docs_per_s"),
                    params={**base, **extra, "inputs": "Document",
                            "rounds_docs_per_s": [round(r) for r in rates]})
    if "str_docs_per_s" in result:
        str_rates = list(result["str_docs_per_s"])
        ctx.report.emit(name, "docs_per_s_str_inputs", median(str_rates), "docs/s",
                        limit=limit("docs_per_s"), params={
                            **base, "inputs": "str", "rounds_docs_per_s": [round(r) for r in str_rates]})
    for q in ("p50", "p99"):
        ctx.report.emit(name, f"latency_{q}_ms", lat[q], "ms", limit=limit(f"latency_{q}_ms"),
                        params={**base, "mean_ms": round(lat["mean"], 3),
                                "min_ms": round(lat["min"], 3), "max_ms": round(lat["max"], 3)})
