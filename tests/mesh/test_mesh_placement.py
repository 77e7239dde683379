"""Where a Flow's pods go on three machines: spread over idle nodes, replicas one per node,
placement rules no node meets refused before anything starts, a cordoned node given nothing
new. Each ``jinad`` runs in its own network namespace (see ``conftest.py``)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from mesh import Client, Document
from tests.fixtures.waiting import wait_for
from tests.mesh.conftest import EDGE_PORT, Mesh
from tests.mesh.flows import (
    assert_nothing_left,
    delete_flow,
    flow_ids,
    flow_yaml,
    get_flow,
    pod_yaml,
    put_flow,
)

pytestmark = pytest.mark.mesh


def test_pods_placed_by_the_mesh_spread_over_idle_nodes(clean: Mesh) -> None:
    """Pods naming no node go to the least-loaded one, counting the Flow's own pods."""
    mesh = clean
    resp = put_flow(mesh, "B", flow_yaml(pod_yaml("p0", uses="_pass"), pod_yaml("p1", uses="_pass"),
                                           pod_yaml("p2", uses="_pass")))
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        assert flow["gateway"]["node"] == "B"
        # four Peas (gateway included) on three idle nodes: each runs one or two
        peas = Counter([p["node"] for p in flow["pods"]] + ["B"])
        assert set(peas) == {"A", "B", "C"} and max(peas.values()) == 2, peas
        assert {n: len(pids) for n, pids in mesh.peas().items()} == dict(peas)
        client = Client(host=flow["host"], port_expose=flow["port"])
        try:
            results = client.index([Document(text="spread")])
        finally:
            client.close()
        assert results is not None and [e["pod"] for e in results[0].route] == [
            "gateway", "p0", "p1", "p2"]
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200


def test_replicas_spread_one_per_node_and_every_one_serves(clean: Mesh) -> None:
    """``replicas: 3`` on three nodes: one replica on each, the head and tail on one node;
    requests reach every replica, and deleting the Flow leaves nothing on any node."""
    mesh = clean
    resp = put_flow(mesh, "A", flow_yaml(pod_yaml("r", uses="_pass", replicas=3)))
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        pod = flow["pods"][0]
        where = {p["name"]: p["node"] for p in pod["peas"]}
        assert where["r/head"] == where["r/tail"] == pod["node"]
        assert sorted(where[f"r/{i}"] for i in range(3)) == ["A", "B", "C"]
        for node in ("A", "B", "C"):
            assert mesh[node].peas(), f"no Pea on {node}"
        body = get_flow(mesh, "B", flow["flow_id"]).json()
        assert body["status"] == "running" and body["pods"][0]["status"] == "running"
        assert body["pods"][0]["running_replicas"] == 3 and body["pods"][0]["replicas"] == 3
        assert {e["status"] for e in body["pods"][0]["peas"]} == {"running"}
        client = Client(host=flow["host"], port_expose=flow["port"], timeout_s=30)
        try:
            results = client.index([Document(text=f"doc {i}") for i in range(60)], request_size=1)
        finally:
            client.close()
        assert results is not None and len(results) == 60
        served = {e["pea"] for r in results for e in r.route if e["pod"] == "r"}
        assert {"r/0", "r/1", "r/2"} <= served, served
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200
    assert_nothing_left(mesh)


def test_a_placement_no_node_meets_is_refused_before_anything_starts(clean: Mesh) -> None:
    """At most 1 replica per node with 4 replicas on 3 nodes; 3 replicas kept together with at
    most 2 per node; only a node that is not in the mesh: each a 409 naming the pod and the
    constraint, answered at once, with nothing started anywhere."""
    mesh = clean
    cases = [(pod_yaml("r", replicas=4, placement={"max_per_node": 1}), "max_per_node"),
             (pod_yaml("r", replicas=3, placement={"spread": "false", "max_per_node": 2}),
              "max_per_node"),
             (pod_yaml("r", placement={"nodes": "[Z]"}), "nodes")]
    for pod, constraint in cases:
        started = time.monotonic()
        resp = put_flow(mesh, "A", flow_yaml(pod))
        assert resp.status_code == 409, resp.text
        assert time.monotonic() - started < 1.0
        body = resp.json()
        assert body["detail"]["pod"] == "r" and constraint in body["detail"]["constraint"], body
    assert mesh.peas() == {name: [] for name in mesh.nodes}
    assert flow_ids(mesh, "A") == []


def test_a_cordoned_node_keeps_its_pods_takes_no_new_ones_and_stays_cordoned(clean: Mesh) -> None:
    """Cordon C: its pod runs on, new replicas go to A and B only, a pod that names C is a
    409; C's jinad restarted is still cordoned; uncordoned, it takes replicas again."""
    mesh = clean
    first = put_flow(mesh, "A", flow_yaml(pod_yaml("pc", host="C"))).json()
    url = f"http://{mesh['B'].ip}:{EDGE_PORT}/nodes"
    try:
        resp = requests.post(f"{url}/C/cordon", timeout=10)
        assert resp.status_code == 200 and resp.json()["status"] == "cordoned", resp.text
        status = {n["name"]: n["status"] for n in requests.get(url, timeout=10).json()["nodes"]}
        assert status == {"A": "ready", "B": "ready", "C": "cordoned"}
        spread = put_flow(mesh, "A", flow_yaml(pod_yaml("r", uses="_pass", replicas=4))).json()
        assert {p["node"] for p in spread["pods"][0]["peas"]} == {"A", "B"}
        assert delete_flow(mesh, "A", spread["flow_id"]).status_code == 200
        pinned = put_flow(mesh, "B", flow_yaml(pod_yaml("p", host="C")))
        assert pinned.status_code == 409 and "cordoned" in pinned.json()["message"], pinned.text
        body = get_flow(mesh, "A", first["flow_id"]).json()
        assert body["status"] == "running"  # what it ran stays

        assert mesh["C"].jinad.stop() == 0
        mesh.start("C")
        wait_for(lambda: {n["name"]: n["status"] for n in requests.get(url, timeout=10).json()[
            "nodes"]}.get("C") == "cordoned", timeout_s=15, what="C back, still cordoned")
    finally:
        assert requests.post(f"{url}/C/uncordon", timeout=10).json()["status"] == "ready"
    spread = put_flow(mesh, "A", flow_yaml(pod_yaml("r", uses="_pass", replicas=3))).json()
    assert sorted(p["node"] for p in spread["pods"][0]["peas"] if "/head" not in p["name"]
                  and "/tail" not in p["name"]) == ["A", "B", "C"]
    for flow in (spread, first):
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200
    assert requests.post(f"{url}/nobody/cordon", timeout=10).status_code == 404
