"""A Flow across three machines: put on A, pods on B and C, read and deleted anywhere.

Each ``jinad`` runs in its own network namespace (see ``conftest.py``); the test
process talks to the nodes, the gateway and the broker over the bridge, as a user
on another machine would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from mesh import Client, Document, Flow
from mesh.errors import MeshError
from tests.fixtures.logtap import LogTap
from tests.fixtures.waiting import wait_for
from tests.mesh.conftest import EDGE_PORT, Mesh
from tests.mesh.flows import (
    assert_nothing_left,
    delete_flow,
    flow_ids,
    flow_yaml,
    get_flow,
    pea_pids,
    pod_yaml,
    put_flow,
)

pytestmark = pytest.mark.mesh

EXECUTORS = Path(__file__).resolve().parent.parent / "integration" / "executors"


def test_flow_put_on_a_runs_on_b_and_c_read_and_deleted_elsewhere(clean: Mesh) -> None:
    mesh = clean
    a, b, c = mesh["A"], mesh["B"], mesh["C"]
    yaml_text = flow_yaml(pod_yaml("pb", host="B"), pod_yaml("pc", host=c.ip),
                           pod_yaml("px", labels={"role": "x"}))
    resp = put_flow(mesh, "A", yaml_text)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    flow_id = created["flow_id"]
    try:
        assert (created["host"], created["gateway"]["node"]) == (a.ip, "A")
        nodes = {p["name"]: p["node"] for p in created["pods"]}
        assert nodes == {"pb": "B", "pc": "C", "px": "C"}
        assert {p["name"]: p["address"] for p in created["pods"]} == {
            "pb": b.ip, "pc": c.ip, "px": c.ip}

        # every Pea named in the record runs under the jinad of the node it names
        pids = pea_pids(created)
        assert set(b.peas()) == pids["B"] and set(c.peas()) == pids["C"]
        assert len(a.peas()) == 1  # the gateway

        # the seed's get_flow_info against B and C: the same record as on A
        records = {n: get_flow(mesh, n, flow_id) for n in ("A", "B", "C")}
        assert all(r.status_code == 200 for r in records.values())
        bodies = {n: r.json() for n, r in records.items()}
        assert bodies["A"] == bodies["B"] == bodies["C"]
        assert bodies["B"]["status"] == "running"
        assert (bodies["C"]["host"], bodies["C"]["port"]) == (a.ip, created["port"])
        assert all(p["status"] == "running" for p in bodies["B"]["pods"])
        assert bodies["B"]["yaml"] == yaml_text

        # the seed's client, from this machine to the gateway on A
        client = Client(host=bodies["B"]["host"], port_expose=int(bodies["B"]["port"]))
        try:
            results = client.index([Document(text="hello, jina"), Document(text="mesh")])
        finally:
            client.close()
        assert results is not None and len(results) == 1 and not results[0].failed
        assert results[0].docs.texts == ["hello, jina", "mesh"]
        assert [e["pod"] for e in results[0].route] == ["gateway", "pb", "pc", "px"]
    finally:
        deleted = delete_flow(mesh, "C", flow_id)

    # DELETE on C answers once every Pea of the flow, on every node, is gone
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["flow_id"] == flow_id
    assert mesh.peas() == {"A": [], "B": [], "C": []}
    for node in ("A", "B", "C"):
        gone = get_flow(mesh, node, flow_id)
        assert gone.status_code == 404, (node, gone.text)
        assert flow_id in gone.json()["message"]
        assert flow_ids(mesh, node) == []


def test_uploaded_executor_files_reach_every_node_that_runs_a_pod(clean: Mesh) -> None:
    """Executor YAML and its py_modules, uploaded to A, run on B and C; a 1.5 MB data file
    rides along (more than one NATS message may carry with the broker's default limit)."""
    mesh = clean
    big = bytes(range(256)) * 6000  # 1.5 MB
    files = [("uses_files", ("suffix.yml", (EXECUTORS / "suffix.yml").read_bytes())),
             ("pymodules_files", ("lib/suffix.py", (EXECUTORS / "lib" / "suffix.py").read_bytes())),
             ("uses_files", ("data/big.bin", big))]
    resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", uses="suffix.yml", host="B"),
                                           pod_yaml("pc", uses="suffix.yml", host="C")), files)
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        for name in ("B", "C"):  # relative paths kept, in the flow's folder on that node
            folder = mesh[name].jinad.state_dir / "workspace" / flow["flow_id"]
            assert (folder / "lib" / "suffix.py").is_file()
            assert (folder / "data" / "big.bin").read_bytes() == big
        assert not (mesh["A"].jinad.state_dir / "workspace" / flow["flow_id"]).exists()
        client = Client(host=flow["host"], port_expose=flow["port"])
        try:
            results = client.index([Document(text="a")])
        finally:
            client.close()
        assert results is not None and results[0].docs.texts == ["a!!"]  # one "!" per pod
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200


def test_one_log_subscription_sees_every_node(clean: Mesh) -> None:
    mesh = clean
    with LogTap(mesh.nats_url) as tap:
        resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", host="B"), pod_yaml("pc", host="C")))
        assert resp.status_code == 200, resp.text
        flow = resp.json()
        try:
            client = Client(host=flow["host"], port_expose=flow["port"])
            try:
                assert client.index([Document(text="to every node")]) is not None
            finally:
                client.close()
            # the gateway runs on A, pb on B, pc on C: their lines reach one subscriber
            wait_for(lambda: tap.nodes_of(flow["flow_id"]) >= {"A", "B", "C"}, timeout_s=10,
                     what="log records of nodes A, B and C")
            wait_for(lambda: {r["pod"] for r in tap.forwarded(flow["flow_id"])} == {"pb", "pc"},
                     timeout_s=10, what="the lines pb and pc log for the request")
            # any node's edge replays the whole flow's lines (JetStream), whoever wrote them
            replay = requests.get(f"http://{mesh['C'].ip}:{EDGE_PORT}/logs/{flow['flow_id']}",
                                  timeout=10)
            assert replay.status_code == 200
            replayed = [orjson.loads(line[6:]) for line in replay.text.splitlines()
                        if line.startswith("data: ")]
            assert {r["node"] for r in replayed} == {"A", "B", "C"}
        finally:
            assert delete_flow(mesh, "B", flow["flow_id"]).status_code == 200
        # lifecycle events of every node on one subject tree
        wait_for(lambda: {(e["node"], e["kind"]) for e in tap.events
                          if e["flow"] == flow["flow_id"]} >= {
                     (n, k) for n in ("A", "B", "C") for k in ("started", "ready", "stopped")},
                 timeout_s=5, what="started, ready and stopped events of nodes A, B and C")
    mine = [r for r in tap.records if r["flow"] == flow["flow_id"]]
    by_node = {(r["node"], r["pod"]) for r in mine}
    assert {("A", "gateway"), ("B", "pb"), ("C", "pc")} <= by_node
    assert all(set(r) >= {"time", "level", "node", "flow", "pod", "pea", "message"} for r in mine)
    forwarded = tap.forwarded(flow["flow_id"])
    assert sorted((r["node"], r["pod"]) for r in forwarded) == [("B", "pb"), ("C", "pc")]
    assert "gateway▸pb" in forwarded[0]["message"] or "gateway▸pb" in forwarded[1]["message"]


def test_a_pea_that_dies_on_its_node_shows_as_failed_everywhere(clean: Mesh) -> None:
    """With restarts turned off (attempts: 0) a killed Pea fails its pod, with the reason."""
    mesh = clean
    resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", host="B"),
                                           pod_yaml("pc", host="C", restart={"attempts": 0})))
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        pc_pid = next(p["peas"][0]["pid"] for p in flow["pods"] if p["name"] == "pc")
        assert mesh["C"].peas() == [pc_pid]
        os.kill(pc_pid, signal.SIGKILL)

        def statuses(node: str) -> tuple[str, dict[str, str]]:
            body = get_flow(mesh, node, flow["flow_id"]).json()
            return body["status"], {p["name"]: p["status"] for p in body["pods"]}

        want = ("degraded", {"pb": "running", "pc": "failed"})
        wait_for(lambda: statuses("B") == want, timeout_s=3, what="pc reported failed")
        assert statuses("A") == statuses("C") == want
        pc = next(p for p in get_flow(mesh, "A", flow["flow_id"]).json()["pods"] if p["name"] == "pc")
        assert pc["reason"].startswith("pc exited with code -9") and pc["restarts"] == 0
        assert [e["status"] for e in pc["peas"]] == ["failed"] and pc["running_replicas"] == 0
        pb = next(p for p in get_flow(mesh, "C", flow["flow_id"]).json()["pods"] if p["name"] == "pb")
        assert [e["status"] for e in pb["peas"]] == ["running"] and pb["running_replicas"] == 1
        listed = requests.get(f"http://{mesh['C'].ip}:{EDGE_PORT}/flows", timeout=10).json()["flows"]
        assert [(f["flow_id"], f["status"]) for f in listed] == [(flow["flow_id"], "degraded")]
        assert mesh["C"].peas() == []  # nothing restarted it
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200


def _serves_again_after_one_restart(mesh: Mesh, flow: dict[str, Any], text: str) -> None:
    """The Flow running again (as B says) with pc restarted once, and a request through it."""
    def pc_state() -> tuple[str, str, int]:
        body = get_flow(mesh, "B", flow["flow_id"]).json()
        pc = next(p for p in body["pods"] if p["name"] == "pc")
        return body["status"], pc["status"], pc["restarts"]

    wait_for(lambda: pc_state() == ("running", "running", 1), timeout_s=10,
             what="the Flow running again, pc restarted once")
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=30) as client:
        results = client.index([Document(text=text)])
    assert results is not None and [e["pod"] for e in results[0].route][-1] == "pc"


def test_a_pea_that_dies_is_restarted_on_its_node_and_the_flow_serves_again(clean: Mesh) -> None:
    """The default restart policy: a SIGKILLed Pea is started again on its node, on the same
    ports (its neighbours reconnect), and requests through the Flow succeed again."""
    mesh = clean
    resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", host="B"), pod_yaml("pc", host="C")))
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        pc_pid = next(p["peas"][0]["pid"] for p in flow["pods"] if p["name"] == "pc")
        os.kill(pc_pid, signal.SIGKILL)
        new = wait_for(lambda: [p for p in mesh["C"].peas() if p != pc_pid], timeout_s=15,
                       what="pc's Pea started again on C")
        assert len(new) == 1

        _serves_again_after_one_restart(mesh, flow, "after the restart")
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200


def test_a_pea_that_stops_answering_is_killed_and_restarted(clean: Mesh) -> None:
    """The liveness probe: a Pea stopped with SIGSTOP (its process lives, its control socket
    is silent) is killed after ``liveness_s`` and started again; the Flow serves again."""
    mesh = clean
    policy = {"liveness_s": 2, "delay_s": 0.1}
    resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", host="B"),
                                           pod_yaml("pc", host="C", restart=policy)))
    assert resp.status_code == 200, resp.text
    flow = resp.json()
    try:
        pb_pid, pc_pid = (next(p["peas"][0]["pid"] for p in flow["pods"] if p["name"] == name)
                          for name in ("pb", "pc"))
        time.sleep(3)  # a Pea that answers is left alone, however long it runs
        assert mesh["C"].peas() == [pc_pid] and mesh["B"].peas() == [pb_pid]
        os.kill(pc_pid, signal.SIGSTOP)
        new = wait_for(lambda: [p for p in mesh["C"].peas() if p != pc_pid], timeout_s=15,
                       what="pc's Pea killed and started again on C")
        assert len(new) == 1 and mesh["C"].peas() == new  # the stopped one is gone
        assert mesh["B"].peas() == [pb_pid]  # pb, not probed, untouched

        _serves_again_after_one_restart(mesh, flow, "after the hang")
        events = requests.get(f"http://{mesh['A'].ip}:{EDGE_PORT}/events/{flow['flow_id']}",
                              timeout=10).text
        assert "did not answer its control socket" in events, events
    finally:
        assert delete_flow(mesh, "A", flow["flow_id"]).status_code == 200


_BROKEN_YML = b"!Broken\nmetas:\n  py_modules:\n    - broken.py\n"
_BROKEN_PY = b"""
from mesh import Executor


class Broken(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        raise RuntimeError("model file weights.bin is missing")
"""


def test_pod_failing_on_one_node_leaves_nothing_anywhere(clean: Mesh) -> None:
    """pb starts on B, pbad's executor fails in its constructor on C: the PUT names pbad,
    and pb is stopped again; no Pea, record, file or folder stays on any node."""
    mesh = clean
    with LogTap(mesh.nats_url) as tap:
        resp = put_flow(mesh, "A", flow_yaml(pod_yaml("pb", host="B"),
                                               pod_yaml("pbad", uses="broken.yml", host="C")),
                         [("uses_files", ("broken.yml", _BROKEN_YML)),
                          ("pymodules_files", ("broken.py", _BROKEN_PY))])
        assert 400 <= resp.status_code < 600, resp.text
        body = resp.json()
        assert "pbad" in body["message"] and "weights.bin is missing" in body["message"], body
        assert (body["detail"]["pod"], body["detail"]["node"]) == ("pbad", "C")
        flow_id = next(e["flow"] for e in tap.events if e["pod"] == "pbad")
        wait_for(lambda: {(e["node"], e["pod"], e["kind"]) for e in tap.events
                          if e["flow"] == flow_id} >= {("B", "pb", "ready"), ("B", "pb", "stopped"),
                                                       ("C", "pbad", "failed")},
                 timeout_s=5, what="pb ready then stopped on B, pbad failed on C")
    assert mesh.peas() == {"A": [], "B": [], "C": []}
    for node in ("A", "B", "C"):
        assert flow_ids(mesh, node) == []
        assert requests.get(f"http://{mesh[node].ip}:{EDGE_PORT}/alive", timeout=5).ok
    assert_nothing_left(mesh)


def test_flow_api_host_runs_a_pod_on_c_that_binds_toward_this_machine(
        clean: Mesh, capfd: pytest.CaptureFixture[str]) -> None:
    mesh = clean
    c = mesh["C"]
    flow = Flow().add(uses="_logforward").add(uses="_logforward", host=c.ip, port_expose=EDGE_PORT)
    with flow:
        plan = flow.plan
        assert plan is not None
        remote = plan.pod("pod1")
        assert remote.node.name == "C" and remote.node.address == c.ip
        # the pod on C binds both its sides; this machine (maybe behind NAT) only dials out
        assert [s.mode for s in remote.entry.inputs] == ["bind"]
        assert [s.mode for s in remote.exit.outputs] == ["bind"]
        local_in = plan.gateway.inputs
        assert [s.mode for s in local_in] == ["connect"]
        assert local_in[0].addresses == [f"{c.ip}:{remote.exit.outputs[0].port}"]
        assert plan.pod("pod0").exit.outputs[0].addresses == [f"{c.ip}:{remote.entry.inputs[0].port}"]
        assert len(c.peas()) == 1 and mesh["A"].peas() == [] and mesh["B"].peas() == []

        results = flow.index([Document(text="over the bridge")])
        assert results is not None and not results[0].failed
        assert [e["pod"] for e in results[0].route] == ["gateway", "pod0", "pod1"]
        assert results[0].docs.texts == ["over the bridge"]
        pod_id = f"{flow.flow_id}-pod1"
        assert c.edge.get_flow(pod_id)["pods"][0]["node"] == "C"  # pod records: any node
        captured: list[str] = []

        def globe_line() -> bool:
            captured.append(capfd.readouterr().err)
            return any(line.startswith("🌏 pod1@") and "recv IndexRequest from gateway▸pod0" in line
                       for line in "".join(captured).splitlines())

        wait_for(globe_line, timeout_s=10, what="a 🌏 log line of the pod on C about the request")
    # leaving `with` removes the pod on C and its record
    assert c.peas() == []
    with pytest.raises(MeshError) as err:
        mesh["A"].edge.get_flow(pod_id)
    assert err.value.status == 404



def test_flow_api_host_names_a_node_that_an_edge_already_reached_places(
        clean: Mesh, capfd: pytest.CaptureFixture[str]) -> None:
    """``host='C'``: no DNS; node A's edge, reached for the pod before it, places it on C."""
    mesh = clean
    a, c = mesh["A"], mesh["C"]
    flow = (Flow().add(uses="_logforward", host=a.ip, port_expose=EDGE_PORT)
            .add(uses="_logforward", host="C", port_expose=EDGE_PORT))
    with flow:
        assert flow.plan is not None
        assert [(pp.node.name, pp.node.address) for pp in flow.plan.pods] == [("A", a.ip), ("C", c.ip)]
        assert len(a.peas()) == 1 and len(c.peas()) == 1
        results = flow.index([Document(text="by name")])
        assert results is not None and [e["pod"] for e in results[0].route] == [
            "gateway", "pod0", "pod1"]
        captured: list[str] = []

        def globe_lines() -> bool:
            captured.append(capfd.readouterr().err)
            lines = "".join(captured).splitlines()
            return all(any(line.startswith(f"🌏 {pod}@") and "recv IndexRequest" in line
                           for line in lines) for pod in ("pod0", "pod1"))

        wait_for(globe_lines, timeout_s=10, what="🌏 log lines of the pods on A and C")
    assert a.peas() == [] and c.peas() == []


_ORPHAN = """
import sys
from mesh import Flow

flow = Flow(lease_s=LEASE).add(uses="_logforward").add(uses="_logforward", host=HOST, port_expose=PORT)
flow.start()
print("started", flow.flow_id, flush=True)
sys.stdin.read()  # until killed
"""


def test_remote_pod_of_a_killed_flow_process_goes_when_its_lease_ends(clean: Mesh, tmp_path: Path) -> None:
    mesh = clean
    c = mesh["C"]
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN.replace("LEASE", "2.0").replace("HOST", repr(c.ip))
                      .replace("PORT", str(EDGE_PORT)))
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("started "), line
        flow_id = line.split()[1]
        assert len(c.peas()) == 1
        proc.kill()  # no `with` exit, no close(): only the lease can tell C
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    wait_for(lambda: c.peas() == [], timeout_s=2.0 + 3, what="the pod on C to go when its lease ends")
    pod_id = f"{flow_id}-pod1"
    wait_for(lambda: get_flow(mesh, "A", pod_id).status_code == 404, timeout_s=3,
             what="the pod's record to go with it")
