"""The raw limit of issue 3: NATS request/reply latency with nats-py, one process asking,
another answering, against a nats-server of its own on 127.0.0.1.

``python -m benchmarks.nats_rr responder NATS_URL`` runs the echo responder.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import nats
from nats.aio.msg import Msg

from benchmarks.context import Context
from benchmarks.procs import Child, python_module
from benchmarks.report import summary_ms
from mesh.daemon.broker import die_with_parent

__all__ = ["run"]

SUBJECT = "bench.echo"
PAYLOAD = b"x" * 200  # about one encoded log record
TIMEOUT_S = 5.0
WARMUP = 50


async def _respond(url: str) -> None:
    die_with_parent()  # SIGTERM when the benchmark goes, however it goes
    nc = await nats.connect(url, name="bench-echo")

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    await nc.subscribe(SUBJECT, cb=echo)
    await nc.flush()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()  # the benchmark terminates it (and its parent-death signal, if it dies)
    await nc.close()


async def _ask(url: str, count: int) -> list[float]:
    nc = await nats.connect(url, name="bench-ask")
    try:
        for _ in range(WARMUP):
            await nc.request(SUBJECT, PAYLOAD, timeout=TIMEOUT_S)
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            await nc.request(SUBJECT, PAYLOAD, timeout=TIMEOUT_S)
            samples.append(time.perf_counter() - t0)
        return samples
    finally:
        await nc.close()


def run(ctx: Context, name: str) -> None:
    from mesh.daemon.broker import NatsServer

    count = ctx.pick(1000, 300)
    server = NatsServer(host="127.0.0.1", port=0, jetstream=False).start()
    ctx.stack.callback(server.stop)
    echo = Child(python_module(__name__, "responder", server.url), name="nats-echo")
    ctx.stack.callback(echo.stop)
    echo.wait_line("ready", timeout_s=20)
    lat = summary_ms(asyncio.run(_ask(server.url, count)))
    echo.stop()
    server.stop()
    params = {"requests": count, "payload_bytes": len(PAYLOAD), "processes": 3,
              "mean_ms": round(lat["mean"], 3), "min_ms": round(lat["min"], 3),
              "max_ms": round(lat["max"], 3)}
    for q in ("p50", "p99"):
        ctx.report.emit(name, f"latency_{q}_ms", lat[q], "ms", params=params)


if __name__ == "__main__":
    if sys.argv[1:2] != ["responder"] or len(sys.argv) != 3:
        sys.exit("usage: python -m benchmarks.nats_rr responder NATS_URL")
    asyncio.run(_respond(sys.argv[2]))
