"""Nodes of another mesh protocol are never chosen: a node of the previous protocol joins a
real jinad's mesh (with the credentials the mesh gives it) and registers; GET /nodes says
why it takes no pods, a pod pinned to it is a 409 before anything starts, and other pods go
to the nodes of this protocol."""

from __future__ import annotations

import asyncio
import time

import pytest
import requests

from mesh.events.bus import Bus
from mesh.events.kv import NodeRegistry
from mesh.events.models import PROTOCOL, NodeInfo
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import async_wait_for
from tests.integration.jinad_support import assert_clean, put_flow, upload

pytestmark = pytest.mark.integration


def _node_login(flags: list[str]) -> dict[str, str]:
    user = flags[flags.index("--nats-user") + 1]
    return {"user": user, "password": flags[flags.index("--nats-password") + 1],
            "inbox_prefix": f"_INBOX.{user}"}


async def test_a_node_of_another_protocol_is_skipped(jinad_factory: object) -> None:
    node: JinadNode = jinad_factory(name="current")  # type: ignore[operator]
    login = _node_login(await asyncio.to_thread(node.join_args, "old"))
    bus = await Bus.connect(node.nats_url(), name="old-node", **login)
    try:
        nodes = NodeRegistry(bus.jetstream, ttl_s=60)
        await nodes.open()
        await nodes.put(NodeInfo(name="old", address="127.0.0.1", port=1, cpu_count=64, load1=0,
                                 mem_total_mb=1, mem_available_mb=1, version="0.0.9",
                                 started=time.time(), heartbeat=time.time(), protocol=PROTOCOL - 1))
        listed = await async_wait_for(lambda: _listed(node), timeout_s=10, what="both nodes listed")
        assert listed["current"]["ineligible"] is None and listed["current"]["protocol"] == PROTOCOL
        assert f"speaks mesh protocol {PROTOCOL - 1}" in listed["old"]["ineligible"]
        r = await asyncio.to_thread(upload, node, "!Flow\nversion: 1\npods:\n  - name: p\n    host: old\n")
        assert r.status_code == 409, r.text
        assert "'p' names node old, which speaks mesh protocol" in r.json()["message"]
        # the old node is idle and has 64 CPUs, yet pods go to the node of this protocol
        flow = await asyncio.to_thread(put_flow, node, "!Flow\nversion: 1\npods:\n  - name: a\n  - name: b\n")
        assert {p["node"] for p in flow["pods"]} == {"current"}
        await asyncio.to_thread(node.edge.delete_flow, flow["flow_id"])
        await nodes.delete("old")
    finally:
        await bus.close()
    await asyncio.to_thread(assert_clean, node)


def _listed(node: JinadNode) -> dict[str, dict[str, object]] | None:
    body = requests.get(f"{node.url}/nodes", timeout=5).json()
    found = {n["name"]: n for n in body["nodes"]}
    return found if {"current", "old"} <= found.keys() else None


def test_a_pod_no_node_can_take_is_a_409_before_anything_starts(node: JinadNode) -> None:
    began = time.monotonic()
    r = upload(node, "!Flow\nversion: 1\npods:\n  - name: a\n  - name: gpu\n    labels:\n"
                     "      accelerator: tpu\n")
    took_s = time.monotonic() - began
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["message"].startswith("pod 'gpu' asks for labels accelerator=tpu, which no live node has")
    assert body["detail"]["constraint"] == {"labels": {"accelerator": "tpu"}}
    assert took_s < 1.0, took_s
    assert_clean(node)  # nothing was started, nothing recorded
