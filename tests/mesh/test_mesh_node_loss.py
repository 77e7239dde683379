"""A node dies (SIGKILL of its ``jinad``): its Peas follow, the mesh forgets it, flows say so;
started again on its state dir, it re-creates what the Flows still place on it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh import Client, Document
from tests.fixtures.procs import running
from tests.fixtures.waiting import wait_for
from tests.mesh.conftest import EDGE_PORT, Mesh, build_mesh

pytestmark = pytest.mark.mesh

NODE_TTL_S = 3.0  # the jinad fixture's --node-ttl-s


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    """A mesh of its own: this test kills one of its nodes."""
    built = build_mesh(tmp_path)
    try:
        yield built
    finally:
        leftovers = built.close()
    assert not leftovers, f"Peas left behind: {leftovers}"


def _url(mesh: Mesh, node: str, path: str) -> str:
    return f"http://{mesh[node].ip}:{EDGE_PORT}{path}"


def _live_nodes(mesh: Mesh, asked: str) -> set[str]:
    body = requests.get(_url(mesh, asked, "/nodes"), timeout=10).json()
    return {n["name"] for n in body["nodes"]}


def _put(mesh: Mesh, node: str, yaml_text: str) -> dict[str, Any]:
    resp = requests.put(_url(mesh, node, "/flow/yaml"),
                        files=[("yamlspec", ("flow.yml", yaml_text.encode()))], timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _status(mesh: Mesh, asked: str, flow_id: str) -> tuple[str, str, dict[str, tuple[str, str]]]:
    """The flow's status, its gateway's and each pod's (node, status), as ``asked`` says."""
    body = requests.get(_url(mesh, asked, f"/flow/{flow_id}"), timeout=10).json()
    pods = {p["name"]: (p["node"], p["status"]) for p in body["pods"]}
    return body["status"], body["gateway"]["status"], pods


def test_killed_node_leaves_the_mesh_and_its_flows_say_so(mesh: Mesh) -> None:
    pods_on_b_and_c = ("!Flow\nversion: 1\npods:\n"
                       "  - name: pb\n    uses: _logforward\n    host: B\n"
                       "  - name: pc\n    uses: _logforward\n    host: C\n")
    on_a = _put(mesh, "A", pods_on_b_and_c)["flow_id"]  # gateway on A, a pod on B
    on_b = _put(mesh, "B", "!Flow\nversion: 1\npods:\n  - name: pc\n    uses: _pass\n    host: C\n"
                )["flow_id"]  # gateway on B
    b = mesh["B"]
    b_peas = b.peas()
    assert len(b_peas) == 2 and len(mesh["C"].peas()) == 2 and len(mesh["A"].peas()) == 1
    for asked in ("A", "B", "C"):
        assert _status(mesh, asked, on_a) == ("running", "running", {"pb": ("B", "running"),
                                                                      "pc": ("C", "running")})

    os.kill(b.pid, signal.SIGKILL)
    b.jinad.proc.wait(5)

    # B's Peas notice their jinad is gone and exit
    wait_for(lambda: not any(running(pid) for pid in b_peas), timeout_s=5,
             what=f"B's Peas {b_peas} to exit")
    # B drops out of the node registry once its last heartbeat expires
    wait_for(lambda: _live_nodes(mesh, "A") == {"A", "C"}, timeout_s=NODE_TTL_S + 3,
             what="B to leave GET /nodes")
    assert _live_nodes(mesh, "C") == {"A", "C"}

    # the flows' records say what is lost, on any live node
    for asked in ("A", "C"):
        assert _status(mesh, asked, on_a) == ("degraded", "running", {"pb": ("B", "lost"),
                                                                       "pc": ("C", "running")})
        assert _status(mesh, asked, on_b) == ("degraded", "lost", {"pc": ("C", "running")})

    # B comes back (same state dir): it re-creates what the Flows still place on it (pb, and
    # on_b's gateway), on the same ports, and both Flows run again
    mesh.start("B")
    wait_for(lambda: _live_nodes(mesh, "A") == {"A", "B", "C"}, timeout_s=10,
             what="B back in GET /nodes")
    wait_for(lambda: all(_status(mesh, asked, on_b)[:2] == ("running", "running")
                         and _status(mesh, asked, on_a)[0] == "running" for asked in "ABC"),
             timeout_s=15, what="B's pods re-created and both Flows running")
    assert _status(mesh, "C", on_a)[2] == {"pb": ("B", "running"), "pc": ("C", "running")}
    again = mesh["B"].peas()
    assert len(again) == 2 and not set(again) & set(b_peas)
    for flow_id in (on_a, on_b):
        body = requests.get(_url(mesh, "A", f"/flow/{flow_id}"), timeout=10).json()
        with Client(host=body["host"], port_expose=body["port"], timeout_s=30) as client:
            results = client.index([Document(text="after B came back")])
        assert results is not None and results[0].num_docs == 1

    # deleting them still works: every live node stops what it runs of them
    for flow_id, asked in ((on_a, "C"), (on_b, "A")):
        deleted = requests.delete(_url(mesh, asked, "/flow"), params={"flow_id": flow_id}, timeout=30)
        assert deleted.status_code == 200, deleted.text
    assert mesh.peas() == {"A": [], "B": [], "C": []}
    for asked in ("A", "B", "C"):
        for flow_id in (on_a, on_b):
            assert requests.get(_url(mesh, asked, f"/flow/{flow_id}"), timeout=10).status_code == 404
    assert mesh.stored()["jinad_flows"] == []

    # a node that stops (SIGTERM) leaves the mesh at once, without waiting for the TTL
    assert mesh["B"].jinad.stop() == 0
    wait_for(lambda: _live_nodes(mesh, "A") == {"A", "C"}, timeout_s=NODE_TTL_S / 3,
             what="B to leave at once")
