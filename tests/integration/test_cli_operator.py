"""The operator's commands against a real jinad: ``mesh flows``, ``status``, ``nodes``, ``deploy``,
``delete``; jinad's own terminal lines; a Client pointed at the edge instead of a gateway.

Each command runs as a user runs it (a subprocess) against a real jinad on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh import Client, Document
from mesh.errors import MeshError, NotFoundError
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow, write_files
from tests.integration.test_cli import assert_quiet_error
from tests.integration.test_cli_remote import run_mesh
from tests.integration.test_jinad_api import MY_EXEC_PY, MY_EXEC_YAML

pytestmark = pytest.mark.integration

TWO_PODS = """\
!Flow
version: 1
pods:
  - name: wide
    uses: _logforward
    replicas: 2
  - name: narrow
    uses: _logforward
"""

UPLOADING = """\
!Flow
version: 1
pods:
  - name: enc
    uses: exec/my.yml
  - name: fwd
    uses: _logforward
"""

MISSING = """\
!Flow
version: 1
pods:
  - name: broken
    uses: exec/missing.yml
"""


def mesh_on(node: JinadNode, *args: str, timeout_s: float = 60.0) -> str:
    """``mesh ARGS --port P`` against ``node``; its stdout, after checking it exited 0."""
    out = run_mesh(*args, "--host", "127.0.0.1", "--port", str(node.port), timeout_s=timeout_s)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr == ""
    return out.stdout


def rows_of(text: str, header: str) -> list[list[str]]:
    """The rows of the table whose header row starts with ``header``, split on 2+ spaces,
    checking that every row's cells start where the header's columns start."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    head = lines[start]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", head)]
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or re.match(r"^\d+ (node|flow)s?$", line):
            break
        cells = re.split(r" {2,}", line.strip())
        assert [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)] == starts[:len(cells)], \
            f"misaligned:\n{head}\n{line}"
        rows.append(cells)
    return rows


@pytest.fixture
def flow(node: JinadNode) -> Iterator[dict[str, object]]:
    created = put_flow(node, TWO_PODS)
    yield created
    try:
        node.edge.delete_flow(created["flow_id"])
    except NotFoundError:
        pass


@pytest.mark.timeout(120)
def test_nodes_flows_and_status_print_aligned_tables_and_json(node: JinadNode,
                                                              flow: dict[str, object]) -> None:
    flow_id = str(flow["flow_id"])
    gateway = f"{flow['host']}:{flow['port']}"

    nodes = rows_of(mesh_on(node, "nodes"), "NAME")
    assert [r[:3] for r in nodes] == [[node.name, "ready", f"127.0.0.1:{node.port}"]]
    assert json.loads(mesh_on(node, "nodes", "--json"))[0]["name"] == node.name

    out = mesh_on(node, "flows")
    assert out.splitlines()[0].split() == ["FLOW", "STATUS", "GATEWAY", "PODS", "NODES", "ORIGIN",
                                           "AGE"]
    listed = rows_of(out, "FLOW")
    assert [r[:6] for r in listed] == [[flow_id, "running", gateway, "wide,narrow", node.name,
                                        node.name]]
    assert "1 flow" in out.splitlines()
    assert [f["flow_id"] for f in json.loads(mesh_on(node, "flows", "--json"))] == [flow_id]

    out = mesh_on(node, "status", flow_id)
    assert rows_of(out, "FLOW") == [[flow_id, "running", gateway, node.name]]
    assert rows_of(out, "POD") == [["wide", node.name, "2", "running", "_logforward"],
                                   ["narrow", node.name, "1", "running", "_logforward"]]
    peas = rows_of(out, "PEA")
    assert [r[:3] for r in peas] == [["wide/head", "wide", node.name], ["wide/0", "wide", node.name],
                                     ["wide/1", "wide", node.name], ["wide/tail", "wide", node.name],
                                     ["narrow", "narrow", node.name]]
    assert all(r[3].isdigit() and r[4].isdigit() for r in peas)  # pid, control port
    status = json.loads(mesh_on(node, "status", flow_id, "--json"))
    assert status["flow_id"] == flow_id and status["port"] == flow["port"]


def test_status_of_an_unknown_flow_is_one_error_line(node: JinadNode) -> None:
    out = run_mesh("status", "nope0000", "--port", str(node.port))
    assert out.returncode == 1 and "nope0000" in out.stderr
    assert_quiet_error(out)


@pytest.mark.timeout(150)
def test_deploy_uploads_files_shows_progress_and_delete_removes_it(node: JinadNode,
                                                                   tmp_path: Path) -> None:
    write_files(tmp_path, {"exec/my.yml": MY_EXEC_YAML, "exec/my.py": MY_EXEC_PY,
                           "flow.yml": UPLOADING})
    out = mesh_on(node, "deploy", str(tmp_path / "flow.yml"), timeout_s=120)
    lines = out.splitlines()
    assert lines[0].endswith("with 2 files: exec/my.py, exec/my.yml"), out
    for pod in ("enc", "fwd"):
        placed = lines.index(f"pod {pod}: placed on node {node.name} (1 Pea)")
        starting = lines.index(f"pod {pod}: starting on node {node.name}")
        assert placed < starting < lines.index(f"pod {pod}: ready"), out
    ready = next(ln for ln in lines if re.match(r"^flow \w+ ready: gateway ", ln))
    flow_id, gateway = ready.split()[1], ready.split()[-1]
    assert rows_of(out, "POD") == [["enc", node.name, "1", "running"], ["fwd", node.name, "1", "running"]]

    host, port = gateway.rsplit(":", 1)
    results = Client(host=host, port_expose=int(port)).index([Document(text="hello")])
    assert results is not None
    assert [d.text for r in results for d in r.docs] == ["hello (seen by MyExec)"]

    assert mesh_on(node, "delete", flow_id).strip() == f"deleted flow {flow_id}"
    with pytest.raises(NotFoundError):
        node.edge.get_flow(flow_id)
    log = node.log()
    assert f"flow {flow_id}: starting 2 pod(s), 2 file(s) uploaded" in log
    assert re.search(rf"flow {flow_id} created: enc on {node.name}, fwd on {node.name}; "
                     rf"gateway {re.escape(gateway)}$", log, re.M), log[-2000:]
    assert re.search(rf"flow {flow_id} deleted$", log, re.M)

    gone = run_mesh("delete", flow_id, "--port", str(node.port))
    assert gone.returncode == 1 and flow_id in gone.stderr
    assert_quiet_error(gone)


@pytest.mark.timeout(120)
def test_a_failed_deploy_prints_the_error_exits_1_and_jinad_says_why(node: JinadNode,
                                                                     tmp_path: Path) -> None:
    write_files(tmp_path, {"flow.yml": MISSING})
    out = run_mesh("deploy", str(tmp_path / "flow.yml"), "--port", str(node.port), timeout_s=90)
    assert out.returncode == 1, out.stdout + out.stderr
    assert_quiet_error(out)
    assert out.stderr.startswith("error: ") and "exec/missing.yml" in out.stderr
    # a start that fails this fast may end before the progress sees the Flow's record
    assert "ready: gateway" not in out.stdout
    failed = [ln for ln in node.log().splitlines() if "failed to start, stopping what started" in ln]
    assert failed and "exec/missing.yml" in failed[-1], failed
    assert node.edge.flows() == []


def test_deploy_of_a_file_outside_the_flow_folder_is_refused(node: JinadNode, tmp_path: Path) -> None:
    write_files(tmp_path, {"exec/my.yml": MY_EXEC_YAML, "exec/my.py": MY_EXEC_PY,
                           "flows/flow.yml": UPLOADING.replace("exec/my.yml", "../exec/my.yml")})
    out = run_mesh("deploy", str(tmp_path / "flows" / "flow.yml"), "--port", str(node.port))
    assert out.returncode == 2 and "outside the Flow file's folder" in out.stderr
    assert_quiet_error(out)


def test_jinad_starts_with_its_own_lines_only(node: JinadNode) -> None:
    wait_for(lambda: " ready: edge " in node.log(), timeout_s=10, what="jinad's ready line")
    start = node.log().split(" ready: edge ")[0]
    assert "Sanic Extensions" not in start and "> injection" not in start
    assert "disconnected from NATS" not in start, start
    assert all(ln.startswith("jinad@") for ln in start.splitlines()), start


def test_a_client_pointed_at_the_edge_says_so_at_once(node: JinadNode) -> None:
    began = time.monotonic()
    with pytest.raises(MeshError, match=r"is a jinad edge, not a Flow's gateway; use GET "
                                        r"/flow/\{id\}'s host and port"):
        Client(host="127.0.0.1", port_expose=node.port).index([Document(text="x")])
    assert time.monotonic() - began < 3


def test_events_prints_the_lifecycle_of_a_flow(node: JinadNode) -> None:
    created = put_flow(node, TWO_PODS)
    flow_id = str(created["flow_id"])
    text = mesh_on(node, "events", flow_id)
    lines = text.splitlines()
    pods = [str(p["name"]) for p in created["pods"]]  # type: ignore[union-attr]
    for pod in ["gateway", *pods]:
        assert any(f" started {pod}/*@{node.name} " in ln for ln in lines), text
        assert any(ln.endswith(f" ready {pod}/*@{node.name}") for ln in lines), text
    records = [json.loads(ln) for ln in mesh_on(node, "events", flow_id, "--json").splitlines()]
    assert {r["kind"] for r in records} == {"started", "ready"}
    node.edge.delete_flow(flow_id)
    after = mesh_on(node, "events", flow_id).splitlines()  # a deleted Flow's events still read
    assert any(f" stopped {pods[0]}/*@{node.name}" in ln for ln in after), after
