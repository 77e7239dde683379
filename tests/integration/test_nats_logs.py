"""Log records kept by JetStream and replayed in order, exactly once each."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from mesh.daemon.broker import NatsServer
from mesh.events import Bus, LogRecord, ensure_log_stream, replay_logs, subjects
from mesh.events.streams import LOGS_STREAM
from tests.fixtures.nats import nats_server  # noqa: F401
from tests.fixtures.waiting import async_wait_for

pytestmark = pytest.mark.integration

N = 1000


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:  # noqa: F811
    connected = await Bus.connect(nats_server.url, name="test-logs")
    await ensure_log_stream(connected.jetstream, max_age_s=3600, max_bytes=64 * 1024 * 1024)
    yield connected
    await connected.close()


def _record(flow: str, pod: str, i: int) -> LogRecord:
    return LogRecord(time=time.time(), level="INFO", node="n1", flow=flow, pod=pod, pea=f"{pod}/0", message=str(i))


async def _stored(js: JetStreamContext, count: int, timeout_s: float = 10) -> None:
    """Wait (bounded) until the stream holds ``count`` messages."""
    async def holds() -> bool:
        return (await js.stream_info(LOGS_STREAM)).state.messages >= count

    await async_wait_for(holds, timeout_s=timeout_s, what=f"the stream to hold {count} messages")


async def _publish(bus: Bus, flow: str, pod: str, n: int) -> None:
    for i in range(n):
        await bus.publish(subjects.logs(flow, pod, f"{pod}/0"), _record(flow, pod, i))
    await bus.flush()


async def test_replay_counts_every_record_once_in_order(bus: Bus) -> None:
    await _publish(bus, "f1", "pod0", N)
    await _publish(bus, "f2", "pod0", 10)  # another flow: filtered out
    await _stored(bus.jetstream, N + 10)
    messages = [r.message async for r in replay_logs(bus.jetstream, "f1")]
    assert messages == [str(i) for i in range(N)]


async def test_replay_filters_by_pod_and_handles_slashes(bus: Bus) -> None:
    await _publish(bus, "f1", "enc/head", 5)
    await _publish(bus, "f1", "pod1", 7)
    await _stored(bus.jetstream, 12)
    records = [r async for r in replay_logs(bus.jetstream, "f1", "enc/head")]
    assert [(r.pod, r.message) for r in records] == [("enc/head", str(i)) for i in range(5)]


async def test_replay_of_nothing_ends_at_once(bus: Bus) -> None:
    assert [r async for r in replay_logs(bus.jetstream, "no-such-flow")] == []


async def test_follow_yields_history_then_new_records(bus: Bus) -> None:
    await _publish(bus, "f1", "pod0", 3)
    await _stored(bus.jetstream, 3)
    seen: list[str] = []
    async with contextlib.aclosing(replay_logs(bus.jetstream, "f1", follow=True)) as records:
        async for record in records:
            seen.append(record.message)
            if len(seen) == 3:
                await bus.publish(subjects.logs("f1", "pod0", "pod0/0"), _record("f1", "pod0", 99))
            if len(seen) == 4:
                break
    assert seen == ["0", "1", "2", "99"]


async def test_ensure_log_stream_updates_limits(bus: Bus) -> None:
    await ensure_log_stream(bus.jetstream, max_age_s=60, max_bytes=1024 * 1024)
    info = await bus.jetstream.stream_info(LOGS_STREAM)
    assert (info.config.max_age, info.config.max_bytes) == (60, 1024 * 1024)
    assert (await bus.jetstream.stream_info("JINAD_EVENTS")).config.subjects == [subjects.EVENTS_ALL]
