"""A Flow's status as the node records say it is now: per Pea, per pod, summed over nodes."""

from __future__ import annotations

import pytest

from mesh.events.models import PROTOCOL, NodeInfo
from mesh.events.records import FlowRecord, PeaRecord, PodRecord
from mesh.scheduler.deployer import _with_status

pytestmark = pytest.mark.unit


def _node(name: str, started: float = 1.0, **kw: object) -> NodeInfo:
    return NodeInfo.model_validate({
        "name": name, "address": "10.0.0.1", "port": 8000, "cpu_count": 2, "load1": 0.0,
        "mem_total_mb": 1, "mem_available_mb": 1, "version": "x", "started": started,
        "heartbeat": 0.0, "protocol": PROTOCOL, **kw})


def _record() -> FlowRecord:
    peas = [PeaRecord(name=n, port_ctrl=1, node=node, node_started=1.0)
            for n, node in (("r/head", "A"), ("r/0", "A"), ("r/1", "B"), ("r/2", "C"), ("r/tail", "A"))]
    return FlowRecord(flow_id="f", origin="A", created=0.0, status="running", pods=[
        PodRecord(name="r", node="A", address="10.0.0.1", uses="_pass", replicas=3,
                  status="running", node_started=1.0, peas=peas)])


def test_a_spread_pod_shows_each_pea_and_sums_restarts_over_nodes() -> None:
    nodes = [_node("A", pods=["f/r"]), _node("B", pods=["f/r"], failed=["f/r"], down=["f/r/r/1"],
                                              restarts={"f/r": 2}),
             _node("C", pods=["f/r"], restarts={"f/r": 1})]
    pod = _with_status(_record(), nodes).pods[0]
    assert pod.status == "restarting" and pod.restarts == 3
    assert {p.name: p.status for p in pod.peas} == {
        "r/head": "running", "r/0": "running", "r/1": "restarting", "r/2": "running",
        "r/tail": "running"}
    assert pod.running_replicas == 2


def test_a_replicas_node_that_left_or_restarted_without_it_makes_the_pod_lost() -> None:
    gone = _with_status(_record(), [_node("A"), _node("B")]).pods[0]  # C left the mesh
    assert gone.status == "lost" and {p.name for p in gone.peas if p.status == "lost"} == {"r/2"}
    restarted = _with_status(_record(), [_node("A"), _node("B"), _node("C", started=2.0)])
    assert restarted.pods[0].status == "lost"
    back = _with_status(_record(), [_node("A"), _node("B"), _node("C", started=2.0, pods=["f/r"])])
    assert back.pods[0].status == "running" and back.pods[0].running_replicas == 3
    assert back.status == "running" and restarted.status == "degraded"
