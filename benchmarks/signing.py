"""What signing commands costs a Flow's start: the time to sign and verify one command
(Ed25519 over subject, nonce, expiry and payload, with the node's replay check), beside
``PUT /flow/yaml`` of a 3-pod Flow on one jinad measured in the same run. A 3-pod Flow's
start sends 5 signed commands (one ports request, four spawns: the gateway and each pod)
and its delete one kill; ``put_overhead_ratio`` is the PUT's time over the same time
without those 5 signatures and checks."""

from __future__ import annotations

import asyncio
import time

from benchmarks.context import Context
from benchmarks.jinad_flow import flow_yaml, put_and_delete
from benchmarks.report import median
from mesh.events import codec
from mesh.events.models import SpawnRequest
from mesh.events.signing import Signer, Verifier

__all__ = ["run"]

COMMANDS_PER_PUT = 5


def _sign_and_verify_s(count: int) -> float:
    """Median seconds for one command: sign it on the edge, verify it on the node."""
    signer = Signer.generate()

    async def trusted(refresh: bool) -> set[str]:
        return {signer.public_key}

    verifier = Verifier(trusted)
    payload = codec.encode(SpawnRequest(flow_id="bench", pod="p0", peas=[{"name": "p0/0"}] * 3))

    async def measure() -> list[float]:
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            headers = signer.headers("jinad.spawn.n1", payload)
            await verifier.check("jinad.spawn.n1", payload, headers)
            times.append(time.perf_counter() - t0)
        return times

    return median(asyncio.run(measure()))


def run(ctx: Context, name: str) -> None:
    node = ctx.jinad()
    reps = ctx.pick(5, 2)
    one_s = _sign_and_verify_s(ctx.pick(2000, 300))
    put, _ = put_and_delete(node.edge, flow_yaml([None] * 3), reps)
    ctx.jinad_flows += reps
    put_s = median(put)
    signing_s = COMMANDS_PER_PUT * one_s
    ctx.report.emit(name, "sign_verify_ms", one_s * 1000, "ms",
                    params={"what": "one command signed and verified"})
    ctx.report.emit(name, "put_flow_s", put_s, "s", params={"pods": 3, "reps": reps})
    ctx.report.emit(name, "put_overhead_ratio", put_s / max(put_s - signing_s, 1e-9), "x",
                    params={"commands_signed": COMMANDS_PER_PUT})
