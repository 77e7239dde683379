"""A pod's replicas on other nodes than its head and tail: who dials whom, at which address,
and one spawn per node."""

from __future__ import annotations

import itertools

import pytest

from mesh.flow.addresses import NodeRef, Placement
from mesh.flow.spec import FlowSpec, PodSpec
from mesh.flow.topology import plan_flow

pytestmark = pytest.mark.unit

A, B, C = (NodeRef(name=n, address=f"10.0.0.{i}") for i, n in enumerate("ABC", 1))


def test_the_head_dials_each_replica_on_its_node_and_each_replica_the_tail() -> None:
    ports = itertools.count(20000)
    pod = PodSpec(name="p", replicas=3)
    plan = plan_flow("f", FlowSpec(), [pod], placement=Placement(
        gateway=A, pods={"p": A}, ports=lambda _n: next(ports), replicas={"p": [A, B, C]}))
    pp = plan.pod("p")
    assert pp.head is not None and pp.tail is not None
    reps = pp.replicas
    hosts = [a.rsplit(":", 1)[0] for a in pp.head.outputs[0].addresses]
    assert hosts == ["127.0.0.1", "10.0.0.2", "10.0.0.3"]  # polling any: one socket, three peers
    for rep, want in zip(reps, ["127.0.0.1", "10.0.0.1", "10.0.0.1"], strict=True):
        assert rep.outputs[0].addresses[0].rsplit(":", 1)[0] == want  # the tail, on A
    groups = {node.name: [c.name for c in cfgs] for node, cfgs in pp.by_node()}
    assert groups == {"A": ["p/head", "p/0", "p/tail"], "B": ["p/1"], "C": ["p/2"]}
    controls = [c.rsplit(":", 1)[0] for c in plan.gateway.pod_controls["p"]]
    assert controls == ["127.0.0.1", "127.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1"]


def test_replicas_on_their_pods_node_plan_as_before() -> None:
    ports = itertools.count(20000)
    plan = plan_flow("f", FlowSpec(), [PodSpec(name="p", replicas=2)], placement=Placement(
        gateway=A, pods={"p": B}, ports=lambda _n: next(ports), replicas={"p": [B, B]}))
    pp = plan.pod("p")
    assert pp.replica_nodes == [] and [n.name for n, _ in pp.by_node()] == ["B"]
    assert pp.head is not None
    assert all(a.startswith("127.0.0.1:") for a in pp.head.outputs[0].addresses)
