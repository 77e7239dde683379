"""Node registry with TTL and the flow store, on a real JetStream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from mesh.daemon.broker import NatsServer
from mesh.events import Bus, FlowStore, KeyNotFound, NodeInfo, NodeRegistry
from tests.fixtures.nats import nats_server  # noqa: F401
from tests.fixtures.waiting import async_wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:  # noqa: F811
    connected = await Bus.connect(nats_server.url, name="test-kv")
    yield connected
    await connected.close()


def _node(name: str) -> NodeInfo:
    now = time.time()
    return NodeInfo(
        name=name, address="127.0.0.1", port=8000, cpu_count=2, load1=0.1, mem_total_mb=1024,
        mem_available_mb=512, version="0.1.0", started=now, heartbeat=now,
    )


async def test_empty_registry_lists_nothing(bus: Bus) -> None:
    assert await NodeRegistry(bus.jetstream, ttl_s=5).list() == []


async def test_nodes_expire_after_their_ttl(bus: Bus) -> None:
    registry = NodeRegistry(bus.jetstream, ttl_s=1)
    await registry.put(_node("b"))
    await registry.put(_node("a"))
    assert [n.name for n in await registry.list()] == ["a", "b"]
    assert (await registry.get("a")).name == "a"

    async def gone() -> bool:
        return await registry.list() == []

    await async_wait_for(gone, timeout_s=10, interval_s=0.1, what="both nodes to expire")
    with pytest.raises(KeyNotFound, match="node 'a' not found"):
        await registry.get("a")


async def test_heartbeats_keep_a_node_alive_while_a_silent_one_expires(bus: Bus) -> None:
    registry = NodeRegistry(bus.jetstream, ttl_s=1)
    await registry.put(_node("alive"))
    await registry.put(_node("silent"))

    async def only_alive_left() -> bool:
        await registry.put(_node("alive"))  # the heartbeat
        return [n.name for n in await registry.list()] == ["alive"]

    await async_wait_for(only_alive_left, timeout_s=10, interval_s=0.25,
                         what="only the node that kept beating to be listed")
    await registry.delete("alive")
    assert await registry.list() == []
    with pytest.raises(KeyNotFound):
        await registry.get("alive")


async def test_a_second_registry_binds_to_the_existing_bucket(bus: Bus) -> None:
    await NodeRegistry(bus.jetstream, ttl_s=30).put(_node("a"))
    other = NodeRegistry(bus.jetstream, ttl_s=60)  # different TTL: uses the bucket as it is
    assert [n.name for n in await other.list()] == ["a"]


class FlowRecord(BaseModel):
    flow_id: str
    pods: dict[str, str]
    gateway_port: int


async def test_flow_store_round_trip_with_a_model(bus: Bus) -> None:
    store = FlowStore(bus.jetstream, model_cls=FlowRecord)
    record = FlowRecord(flow_id="f-1", pods={"pod0": "n1", "enc/head": "n2"}, gateway_port=5555)
    await store.put(record.flow_id, record)
    assert await store.get("f-1") == record
    assert await store.list() == {"f-1": record}
    await store.delete("f-1")
    with pytest.raises(KeyNotFound, match="flow 'f-1' not found"):
        await store.get("f-1")
    assert await store.list() == {}


async def test_flow_store_with_plain_dicts(bus: Bus) -> None:
    store = FlowStore(bus.jetstream)
    await store.put("f2", {"pods": ["a", "b"], "n": 1})
    assert await store.get("f2") == {"pods": ["a", "b"], "n": 1}


async def test_bad_keys_are_rejected_before_the_server(bus: Bus) -> None:
    store = FlowStore(bus.jetstream)
    with pytest.raises(ValueError, match="'a b'"):
        await store.put("a b", {})
    with pytest.raises(KeyNotFound, match="not a valid KV key"):  # an id from a URL: a 404
        await store.get("x>")


async def test_create_gives_one_winner_among_racing_writers(bus: Bus) -> None:
    import asyncio

    from mesh.errors import ConflictError

    flows = FlowStore(bus.jetstream)
    await flows.open()
    outcomes = await asyncio.gather(*(flows.create("race", {"writer": i}) for i in range(5)),
                                    return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, int)]
    assert len(winners) == 1
    assert all(isinstance(o, ConflictError) and o.status == 409 for o in outcomes if o not in winners)
    assert (await flows.get("race"))["writer"] in range(5)
    await flows.delete("race")
    assert await flows.create("race", {"writer": "after a delete"}) > winners[0]  # a deleted id is free


async def test_deleted_flows_leave_nothing_a_listing_reads(bus: Bus) -> None:
    flows = FlowStore(bus.jetstream)
    await flows.open()
    for i in range(40):
        await flows.put(f"gone-{i}", {"i": i})
        await flows.delete(f"gone-{i}")
    await flows.put("live", {"i": -1})
    info = await bus.jetstream.stream_info("KV_jinad_flows", subjects_filter="$KV.jinad_flows.>")
    assert list(info.state.subjects or {}) == ["$KV.jinad_flows.live"]  # no delete markers
    assert await flows.list() == {"live": {"i": -1}}
