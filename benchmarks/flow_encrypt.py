"""What ``encrypt_data`` costs: the two-pod ``_pass`` Flow of ``flow_pass`` with its data
sockets in the clear and with ZeroMQ CURVE, measured in one run with the trials interleaved.

Both Flows run side by side; one client process (``loadgen mesh-pair``) drives them in turn:
round 1 of 10,000 Documents (``request_size=100``) to the plain Flow, round 1 to the
encrypted one, round 2 to the encrypted one, round 2 to the plain one, and so on; then the
single-Document round trips the same way, one sample each in turn. A burst of load from
elsewhere on the machine so hits both alike (the idle Flow's Peas wait in ``poll``). Figures:

- ``plain_docs_per_s``, ``plain_latency_p50_ms``: the Flow without encryption.
- ``docs_per_s``, ``latency_p50_ms``: the encrypted Flow; ``limit`` is the plain figure.
- ``docs_per_s_ratio``: the median, over the rounds, of encrypted / plain docs/s of the same
  round (``params.rounds_ratio``); ``latency_p50_ratio``: encrypted p50 / plain p50.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.load import load_pair
from benchmarks.report import median
from mesh import Flow

__all__ = ["run"]

USES = "_pass"


def _two_pods(*, encrypt: bool) -> Flow:
    return Flow(name="bench-enc", encrypt_data=encrypt).add(uses=USES).add(uses=USES)


def run(ctx: Context, name: str) -> None:
    rounds, samples = ctx.pick(60, 6), ctx.pick(1000, 100)
    plain, encrypted = _two_pods(encrypt=False), _two_pods(encrypt=True)
    for flow in (plain, encrypted):
        ctx.stack.callback(flow.close)
    with plain, encrypted:
        ours, theirs = load_pair(ctx, [plain.port_expose, encrypted.port_expose],
                                 rounds=rounds, samples=samples)
    base = {"uses": USES, "pods": 2, "docs": 10_000, "request_size": 100, "rounds": rounds,
            "latency_samples": samples, "interleaved": "round by round, sample by sample"}
    p_rates, e_rates = list(ours["docs_per_s"]), list(theirs["docs_per_s"])
    p_lat, e_lat = dict(ours["latency_ms"]), dict(theirs["latency_ms"])
    ctx.report.emit(name, "plain_docs_per_s", median(p_rates), "docs/s", params={
        **base, "encrypt_data": False, "rounds_docs_per_s": [round(r) for r in p_rates]})
    ctx.report.emit(name, "plain_latency_p50_ms", p_lat["p50"], "ms", params={
        **base, "encrypt_data": False, "p99_ms": round(p_lat["p99"], 3)})
    ctx.report.emit(name, "docs_per_s", median(e_rates), "docs/s", limit=median(p_rates), params={
        **base, "encrypt_data": True, "rounds_docs_per_s": [round(r) for r in e_rates]})
    ctx.report.emit(name, "latency_p50_ms", e_lat["p50"], "ms", limit=p_lat["p50"], params={
        **base, "encrypt_data": True, "p99_ms": round(e_lat["p99"], 3)})
    ratios = [e / p for e, p in zip(e_rates, p_rates, strict=True)]
    ctx.report.emit(name, "docs_per_s_ratio", median(ratios), None, params={
        **base, "what": "encrypted / plain docs/s, round by round",
        "rounds_ratio": [round(r, 3) for r in ratios]})
    ctx.report.emit(name, "latency_p50_ratio", e_lat["p50"] / p_lat["p50"], None, params={
        **base, "what": "encrypted p50 / plain p50"})
