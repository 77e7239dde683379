"""Log line to subscriber: a Pea of a Flow on jinad logs ``time.time()`` for each request
(``benchmarks.executors:LogStamp``); a nats-py subscriber on ``jinad.logs.>`` takes
``now - stamp``. Also split at the record's own ``time`` (when jinad read the line)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import orjson

from benchmarks.context import Context
from benchmarks.executors import STAMP
from benchmarks.jinad_flow import flow_yaml
from benchmarks.report import summary_ms

__all__ = ["run"]

SAMPLE_TIMEOUT_S = 5.0
WARMUP = 20


class _Stamps:
    """Log records with a stamp, by sequence number, as the subscriber receives them."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[tuple[float, float, float]]] = {}

    async def on_msg(self, msg: Any) -> None:
        now = time.time()
        record = orjson.loads(msg.data)
        words = str(record.get("message", "")).split()
        if len(words) != 3 or words[0] != STAMP:
            return
        fut = self.waiting.pop(int(words[2]), None)
        if fut is not None and not fut.done():
            fut.set_result((float(words[1]), float(record["time"]), now))


async def _sample(stamps: _Stamps, client: Any, seq: int) -> tuple[float, float, float] | None:
    from mesh import Document

    fut = asyncio.get_running_loop().create_future()
    stamps.waiting[seq] = fut
    await asyncio.to_thread(client.index, [Document(text="x")], parameters={"seq": seq},
                            on_done=lambda _r: None)
    try:
        return await asyncio.wait_for(fut, SAMPLE_TIMEOUT_S)
    except asyncio.TimeoutError:
        stamps.waiting.pop(seq, None)
        return None


async def _measure(nats_url: str, gateway: tuple[str, int], count: int) -> tuple[list[Any], int]:
    from mesh import Client

    stamps = _Stamps()
    nc = await nats.connect(nats_url, name="bench-logs")
    try:
        await nc.subscribe("jinad.logs.>", cb=stamps.on_msg)
        await nc.flush()
        with Client(host=gateway[0], port_expose=gateway[1], timeout_s=30) as client:
            got = [await _sample(stamps, client, seq) for seq in range(WARMUP + count)]
    finally:
        await nc.close()
    measured = got[WARMUP:]
    return [s for s in measured if s is not None], sum(1 for s in measured if s is None)


def run(ctx: Context, name: str) -> None:
    node = ctx.jinad()
    count = ctx.pick(500, 100)
    created = node.edge.create_flow(flow_yaml([None], uses="benchmarks.executors:LogStamp"))
    ctx.jinad_flows += 1
    try:
        samples, lost = asyncio.run(_measure(node.nats_url(), (created["host"], created["port"]),
                                             count))
    finally:
        node.edge.delete_flow(created["flow_id"])
    if not samples:
        raise RuntimeError(f"none of {count} stamped log lines reached the subscriber")
    total = summary_ms([now - stamp for stamp, _, now in samples])
    legs = {"pea_to_jinad_p50_ms": summary_ms([t - stamp for stamp, t, _ in samples])["p50"],
            "jinad_to_subscriber_p50_ms": summary_ms([now - t for _, t, now in samples])["p50"]}
    params = {"samples": len(samples), "lost": lost, "mean_ms": round(total["mean"], 3),
              "max_ms": round(total["max"], 3), **{k: round(v, 3) for k, v in legs.items()}}
    for q in ("p50", "p99"):
        ctx.report.emit(name, f"latency_{q}_ms", total[q], "ms",
                        limit=ctx.report.value("nats_rr", f"latency_{q}_ms"), params=params)
