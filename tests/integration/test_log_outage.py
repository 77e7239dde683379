"""Log lines survive a broker outage: a real nats-server is stopped while a Pea's lines keep
coming at 1,000 a second, and started again on the same port and store; every line reaches
the JetStream log stream, in order. A bounded buffer that overflows says how many lines it
dropped instead of dropping them silently."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import pytest

from mesh.agents.logship import LogShipper
from mesh.daemon.broker import NatsServer
from mesh.events.bus import Bus
from mesh.events.models import LogRecord
from mesh.events.streams import ensure_log_stream, replay_logs
from tests.fixtures.nats import NatsServerFactory
from tests.fixtures.waiting import async_wait_for

pytestmark = pytest.mark.integration

RATE_PER_S = 1000


@pytest.fixture
async def broker_and_bus(nats_server_factory: NatsServerFactory) -> AsyncIterator[tuple[NatsServer, Bus]]:
    server = nats_server_factory()
    bus = await Bus.connect(server.url, name="logship-test", reconnect_wait_s=0.2)
    await ensure_log_stream(bus.jetstream, max_age_s=3600, max_bytes=512 * 1024 * 1024)
    try:
        yield server, bus
    finally:
        await bus.close()


def _feed(ship: object, count: int, *, start: int = 0) -> threading.Thread:
    """Lines ``line <n>`` at RATE_PER_S from a thread, as a Pea's reader thread hands them."""
    def run() -> None:
        began = time.monotonic()
        for i in range(start, start + count):
            ship(f"line {i}")  # type: ignore[operator]
            ahead_s = (i - start + 1) / RATE_PER_S - (time.monotonic() - began)
            if ahead_s > 0:
                time.sleep(ahead_s)  # pacing the load, not waiting for anything
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _stream(bus: Bus, flow: str) -> list[LogRecord]:
    async with contextlib.aclosing(replay_logs(bus.jetstream, flow)) as records:
        return [r async for r in records]


async def _outage(server: NatsServer, bus: Bus, shipper: LogShipper, flow: str, *,
                  before: int, during_s: float, after: int) -> None:
    ship = shipper.sink(flow, "p", "p/0")
    await asyncio.to_thread(_feed(ship, before).join)
    await async_wait_for(lambda: shipper.shipped >= before, timeout_s=30, what="lines before")
    await bus.flush()
    server.stop(grace_s=5.0)
    await async_wait_for(lambda: not bus.is_connected, timeout_s=10, what="the bus to notice")
    during = int(during_s * RATE_PER_S)
    await asyncio.to_thread(_feed(ship, during, start=before).join)
    server.start()
    await asyncio.to_thread(_feed(ship, after, start=before + during).join)


@pytest.mark.slow
async def test_no_line_is_lost_over_a_60_s_outage_at_1000_lines_per_s(
        broker_and_bus: tuple[NatsServer, Bus]) -> None:
    server, bus = broker_and_bus
    shipper = LogShipper(bus=bus, node="n1", loop=asyncio.get_running_loop())
    shipper.start()
    before, during_s, after = 2000, 61.0, 2000
    total = before + int(during_s * RATE_PER_S) + after
    try:
        await _outage(server, bus, shipper, "f-outage", before=before, during_s=during_s, after=after)
        await async_wait_for(lambda: shipper.shipped >= total, timeout_s=60,
                             what=f"all {total} lines shipped after the broker came back")
        await bus.flush()
        records = await async_wait_for(
            lambda: _complete(bus, "f-outage", total), timeout_s=60,
            what=f"{total} lines in the log stream")
    finally:
        await shipper.stop()
    assert [r.message for r in records] == [f"line {i}" for i in range(total)]
    assert shipper.held >= int(during_s * RATE_PER_S) * 0.95  # they waited on the node
    assert not shipper.dropped


async def test_a_full_buffer_says_how_many_lines_it_dropped(
        broker_and_bus: tuple[NatsServer, Bus]) -> None:
    server, bus = broker_and_bus
    shipper = LogShipper(bus=bus, node="n1", loop=asyncio.get_running_loop(), max_buffered=100)
    shipper.start()
    try:
        await _outage(server, bus, shipper, "f-full", before=10, during_s=0.3, after=0)
        records = await async_wait_for(lambda: _complete(bus, "f-full", 10 + 1 + 100),
                                       timeout_s=60, what="the kept lines and the drop notice")
    finally:
        await shipper.stop()
    messages = [r.message for r in records]
    assert messages[:10] == [f"line {i}" for i in range(10)]
    assert messages[10] == ("200 log lines of p/0 were dropped on node n1: the broker was "
                            "unreachable and the node's buffer of 100 lines was full")
    assert records[10].level == "WARNING"
    assert messages[11:] == [f"line {i}" for i in range(210, 310)]  # the newest 100 were kept


async def _complete(bus: Bus, flow: str, count: int) -> list[LogRecord] | None:
    records = await _stream(bus, flow)
    return records if len(records) >= count else None
