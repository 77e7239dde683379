"""A node dies (SIGKILL of its ``jinad``): its Peas follow, the mesh forgets it, flows say so."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.mesh.conftest import EDGE_PORT, Mesh, build_mesh, wait_for

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


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _live_nodes(mesh: Mesh, asked: str) -> set[str]:
    body = requests.get(_url(mesh, asked, "/nodes"), timeout=10).json()
    return {n["name"] for n in body["nodes"]}


def test_killed_node_leaves_the_mesh_and_its_flows_say_so(mesh: Mesh) -> None:
    yaml_text = ("!Flow\nversion: 1\npods:\n"
                 "  - name: pb\n    uses: _logforward\n    host: B\n"
                 "  - name: pc\n    uses: _logforward\n    host: C\n")
    resp = requests.put(_url(mesh, "A", "/flow/yaml"),
                        files=[("yamlspec", ("flow.yml", yaml_text.encode()))], timeout=60)
    assert resp.status_code == 200, resp.text
    flow_id = resp.json()["flow_id"]
    b = mesh["B"]
    b_peas = b.peas()
    assert len(b_peas) == 1 and len(mesh["C"].peas()) == 1 and len(mesh["A"].peas()) == 1

    os.kill(b.pid, signal.SIGKILL)
    b.jinad.proc.wait(5)

    # B's Peas notice their jinad is gone and exit
    wait_for(lambda: not any(_running(pid) for pid in b_peas), 5, f"B's Peas {b_peas} to exit")
    # B drops out of the node registry once its last heartbeat expires
    wait_for(lambda: _live_nodes(mesh, "A") == {"A", "C"}, NODE_TTL_S + 3, "B to leave GET /nodes")
    assert _live_nodes(mesh, "C") == {"A", "C"}

    # the flow's record says which pod is lost, on any live node
    for asked in ("A", "C"):
        body = requests.get(_url(mesh, asked, f"/flow/{flow_id}"), timeout=10).json()
        assert body["status"] == "degraded", body
        status = {p["name"]: (p["node"], p["status"]) for p in body["pods"]}
        assert status == {"pb": ("B", "lost"), "pc": ("C", "running")}

    # deleting it still works: the live nodes stop their Peas, B is not waited for
    deleted = requests.delete(_url(mesh, "C", "/flow"), params={"flow_id": flow_id}, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert mesh["A"].peas() == [] and mesh["C"].peas() == []
    for asked in ("A", "C"):
        assert requests.get(_url(mesh, asked, f"/flow/{flow_id}"), timeout=10).status_code == 404
