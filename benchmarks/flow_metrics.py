"""What counting costs: the two-pod ``_pass`` Flow of ``flow_pass`` with its Peas' metrics
on (the default) and off (``metrics: false``), measured in one run with the trials
interleaved, as ``flow_encrypt`` does (one ``loadgen mesh-pair`` client drives both Flows
in turn, round by round and sample by sample). Figures:

- ``off_docs_per_s``, ``off_latency_p50_ms``: the Flow that counts nothing.
- ``docs_per_s``, ``latency_p50_ms``: the Flow that counts; ``limit`` is the other's figure.
- ``docs_per_s_ratio``: the median, over the rounds, of on / off docs/s of the same round;
  ``latency_p50_ratio``: on p50 / off p50. The target: within 5 %.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.load import load_pair
from benchmarks.report import median
from mesh import Flow

__all__ = ["run"]

USES = "_pass"


def _two_pods(*, metrics: bool) -> Flow:
    return Flow(name="bench-metrics", metrics=metrics).add(uses=USES).add(uses=USES)


def run(ctx: Context, name: str) -> None:
    rounds, samples = ctx.pick(60, 6), ctx.pick(1000, 100)
    off, on = _two_pods(metrics=False), _two_pods(metrics=True)
    for flow in (off, on):
        ctx.stack.callback(flow.close)
    with off, on:
        quiet, counted = load_pair(ctx, [off.port_expose, on.port_expose], rounds=rounds,
                                   samples=samples)
    base = {"uses": USES, "pods": 2, "docs": 10_000, "request_size": 100, "rounds": rounds,
            "latency_samples": samples, "interleaved": "round by round, sample by sample"}
    o_rates, m_rates = list(quiet["docs_per_s"]), list(counted["docs_per_s"])
    o_lat, m_lat = dict(quiet["latency_ms"]), dict(counted["latency_ms"])
    ctx.report.emit(name, "off_docs_per_s", median(o_rates), "docs/s", params={
        **base, "metrics": False, "rounds_docs_per_s": [round(r) for r in o_rates]})
    ctx.report.emit(name, "off_latency_p50_ms", o_lat["p50"], "ms", params={
        **base, "metrics": False, "p99_ms": round(o_lat["p99"], 3)})
    ctx.report.emit(name, "docs_per_s", median(m_rates), "docs/s", limit=median(o_rates), params={
        **base, "metrics": True, "rounds_docs_per_s": [round(r) for r in m_rates]})
    ctx.report.emit(name, "latency_p50_ms", m_lat["p50"], "ms", limit=o_lat["p50"], params={
        **base, "metrics": True, "p99_ms": round(m_lat["p99"], 3)})
    ratios = [m / o for m, o in zip(m_rates, o_rates, strict=True)]
    ctx.report.emit(name, "docs_per_s_ratio", median(ratios), None, params={
        **base, "what": "metrics on / off docs/s, round by round",
        "rounds_ratio": [round(r, 3) for r in ratios]})
    ctx.report.emit(name, "latency_p50_ratio", m_lat["p50"] / o_lat["p50"], None, params={
        **base, "what": "metrics on / off p50"})
