"""One Flow argument on and off, side by side: the two-pod ``_pass`` Flow of ``flow_pass``
built twice (``Flow(**{arg: False})`` and ``Flow(**{arg: True})``), both running at once, one
client process (``loadgen mesh-pair``) driving them in turn: round 1 of 10,000 Documents
(``request_size=100``) to the first, round 1 to the second, round 2 to the second, round 2 to
the first, and so on; then the single-Document round trips the same way, one sample each in
turn. A burst of load from elsewhere on the machine so hits both alike (the idle Flow's Peas
wait in ``poll``). Figures, ``<off>`` being the bench's name for the Flow with ``arg`` false:

- ``<off>_docs_per_s``, ``<off>_latency_p50_ms``: the Flow with ``arg`` false.
- ``docs_per_s``, ``latency_p50_ms``: the Flow with ``arg`` true; ``limit`` is the other's.
- ``docs_per_s_ratio``: the median, over the rounds, of on / off docs/s of the same round
  (``params.rounds_ratio``); ``latency_p50_ratio``: on p50 / off p50.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.load import load_pair
from benchmarks.report import median
from mesh import Flow

__all__ = ["run_pair"]

USES = "_pass"


def _two_pods(arg: str, value: bool) -> Flow:
    return Flow(name=f"bench-{arg.replace('_', '-')}", **{arg: value}).add(uses=USES).add(uses=USES)


def run_pair(ctx: Context, name: str, *, arg: str, off: str) -> None:
    rounds, samples = ctx.pick(60, 6), ctx.pick(1000, 100)
    first, second = _two_pods(arg, False), _two_pods(arg, True)
    for flow in (first, second):
        ctx.stack.callback(flow.close)
    with first, second:
        a, b = load_pair(ctx, [first.port_expose, second.port_expose], rounds=rounds,
                         samples=samples)
    base = {"uses": USES, "pods": 2, "docs": 10_000, "request_size": 100, "rounds": rounds,
            "latency_samples": samples, "interleaved": "round by round, sample by sample"}
    a_rates, b_rates = list(a["docs_per_s"]), list(b["docs_per_s"])
    a_lat, b_lat = dict(a["latency_ms"]), dict(b["latency_ms"])
    ctx.report.emit(name, f"{off}_docs_per_s", median(a_rates), "docs/s", params={
        **base, arg: False, "rounds_docs_per_s": [round(r) for r in a_rates]})
    ctx.report.emit(name, f"{off}_latency_p50_ms", a_lat["p50"], "ms", params={
        **base, arg: False, "p99_ms": round(a_lat["p99"], 3)})
    ctx.report.emit(name, "docs_per_s", median(b_rates), "docs/s", limit=median(a_rates), params={
        **base, arg: True, "rounds_docs_per_s": [round(r) for r in b_rates]})
    ctx.report.emit(name, "latency_p50_ms", b_lat["p50"], "ms", limit=a_lat["p50"], params={
        **base, arg: True, "p99_ms": round(b_lat["p99"], 3)})
    ratios = [y / x for y, x in zip(b_rates, a_rates, strict=True)]
    ctx.report.emit(name, "docs_per_s_ratio", median(ratios), None, params={
        **base, "what": f"{arg} on / off docs/s, round by round",
        "rounds_ratio": [round(r, 3) for r in ratios]})
    ctx.report.emit(name, "latency_p50_ratio", b_lat["p50"] / a_lat["p50"], None, params={
        **base, "what": f"{arg} on / off p50"})
