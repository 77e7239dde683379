"""The ``mesh`` commands that talk to a jinad: ``pod --host``, ``nodes``, ``logs``, ``--token``.

Every test runs the command as a user does (a subprocess) against a real ``jinad``
advertised on 127.0.0.1 (the seed's "remote" machine, here this one).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesh.errors import ConflictError, NotFoundError
from tests.fixtures.jinad import JinadFactory, JinadNode, pea_pids_of
from tests.fixtures.waiting import wait_for
from tests.integration.test_cli import MESH, REPO, MeshProcess, assert_quiet_error, free_port

pytestmark = pytest.mark.integration

CREATED = re.compile(r"^created remote pod with id (\S+)$")
CONTROL = re.compile(r"control over tcp://127\.0\.0\.1:(\d+) \(ROUTER_BIND\)$")
GLOBE_READY = re.compile(r"^🌏 (\S+)@(\d+)\[I\]:ready and listening$")
TOKEN = "s3cret-token"


def run_mesh(*args: str, env: dict[str, str] | None = None,
             timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """One ``mesh`` command to its end; no token from the environment unless ``env`` sets one."""
    base = {k: v for k, v in os.environ.items() if k != "JINAD_TOKEN"}
    return subprocess.run([*MESH, *args], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=timeout_s, stdin=subprocess.DEVNULL, env={**base, **(env or {})})


@pytest.fixture(scope="module")
def node(jinad_module_factory: JinadFactory) -> JinadNode:
    """One jinad shared by the tests that leave nothing on it."""
    return jinad_module_factory()


@pytest.fixture
def clean_node(node: JinadNode) -> Iterator[JinadNode]:
    yield node
    wait_for(lambda: not pea_pids_of(node.proc.pid), timeout_s=10,
             what=f"the Peas of jinad {node.name} to exit")


def pod_record(node: JinadNode, pod_id: str) -> dict[str, object]:
    return node.edge._call("GET", f"/pod/{pod_id}")


def pod_gone(node: JinadNode, pod_id: str) -> bool:
    try:
        pod_record(node, pod_id)
    except NotFoundError:
        return True
    return False


def start_remote_pod(mesh_process: Callable[..., MeshProcess], node: JinadNode,
                     *extra: str) -> tuple[MeshProcess, str]:
    mesh = mesh_process("pod", "--uses", "_logforward", "--host", "127.0.0.1",
                        "--port-expose", str(node.port), *extra)
    pod_id = CREATED.match(mesh.wait_for_line(CREATED))[1]  # type: ignore[index]
    mesh.wait_for_line(r"^ready$")
    return mesh, pod_id


# -- mesh pod --host ------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_remote_pod_streams_logs_answers_ping_and_is_removed_on_signal(
        sig: int, clean_node: JinadNode, mesh_process: Callable[..., MeshProcess]) -> None:
    node = clean_node
    mesh, pod_id = start_remote_pod(mesh_process, node)

    sockets = next(line for line in mesh.lines if line.startswith("pod: "))
    assert re.match(r"^pod: input tcp://127\.0\.0\.1:\d+ \(PULL_BIND\) "
                    r"output tcp://127\.0\.0\.1:\d+ \(PUSH_BIND\) ", sockets), sockets
    port_ctrl = CONTROL.search(sockets)[1]  # type: ignore[index]
    pea, pid = GLOBE_READY.match(mesh.wait_for_line(GLOBE_READY)).groups()  # type: ignore[union-attr]
    assert pea == "pod"
    assert int(pid) in pea_pids_of(node.proc.pid)  # the Pea runs under the jinad, not here
    assert any(re.match(r"^🌏 pod@\d+\[I\]:input tcp://0\.0\.0\.0:\d+ \(PULL_BIND\)", line)
               for line in mesh.lines)
    assert pod_record(node, pod_id)["status"] == "running"

    ping = run_mesh("ping", "127.0.0.1", port_ctrl, "--retries", "1")
    assert ping.returncode == 0, ping.stdout + ping.stderr

    assert mesh.stop(sig) == 0
    assert pod_gone(node, pod_id)  # removed before the command exited
    wait_for(lambda: not pea_pids_of(node.proc.pid), timeout_s=5, what="the pod's Pea to exit")
    assert "Traceback" not in mesh.stderr()
    assert f"removed remote pod {pod_id}" in mesh.stderr()


@pytest.mark.timeout(90)
def test_remote_pod_with_replicas_prints_every_pea(clean_node: JinadNode,
                                                   mesh_process: Callable[..., MeshProcess]) -> None:
    mesh, pod_id = start_remote_pod(mesh_process, clean_node, "--replicas", "2", "--name", "rep")

    named = {line.split(":")[0] for line in mesh.lines if CONTROL.search(line)}
    assert named == {"rep/head", "rep/0", "rep/1", "rep/tail"}
    summary = next(line for line in mesh.lines if line.startswith("rep on node "))
    assert re.search(r"input tcp://127\.0\.0\.1:\d+ output tcp://127\.0\.0\.1:\d+$", summary)
    ready: set[str] = set()
    while len(ready) < 4:
        ready.add(GLOBE_READY.match(mesh.wait_for_line(GLOBE_READY))[1])  # type: ignore[index]
    assert ready == named
    assert mesh.stop(signal.SIGINT) == 0
    assert pod_gone(clean_node, pod_id)


@pytest.mark.timeout(60)
def test_remote_pod_of_a_killed_command_is_removed_when_its_lease_ends(
        clean_node: JinadNode, mesh_process: Callable[..., MeshProcess]) -> None:
    mesh, pod_id = start_remote_pod(mesh_process, clean_node, "--lease-s", "2")

    mesh.proc.kill()  # no chance to delete the pod: only the lease removes it

    wait_for(lambda: pod_gone(clean_node, pod_id), timeout_s=15, what="the lease to expire")


def test_remote_pod_on_an_unreachable_jinad_fails_with_a_checklist() -> None:
    port = free_port()

    result = run_mesh("pod", "--uses", "_logforward", "--host", "127.0.0.1", "--port-expose", str(port))

    assert result.returncode == 1
    assert_quiet_error(result)
    assert f"error: cannot reach jinad at http://127.0.0.1:{port}" in result.stderr
    assert "Check: is the host right" in result.stderr
    assert "created" not in result.stdout


def test_remote_pod_with_an_unknown_executor_is_a_usage_error(clean_node: JinadNode) -> None:
    result = run_mesh("pod", "--uses", "_nope", "--host", "localhost", "--port-expose", str(clean_node.port))

    assert result.returncode == 2
    assert_quiet_error(result)
    assert "unknown built-in executor '_nope'" in result.stderr
    assert "not removed" not in result.stderr


# -- mesh nodes ----------------------------------------------------------------------------
def test_nodes_lists_the_node(node: JinadNode) -> None:
    result = run_mesh("nodes", "--host", "127.0.0.1", "--port-expose", str(node.port))

    assert result.returncode == 0, result.stderr
    header, *rows, count = result.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "STATUS", "ADDRESS", "LABELS"]
    assert [row.split()[:3] for row in rows] == [[node.name, "ready", f"127.0.0.1:{node.port}"]]
    assert count == "1 node"
    as_json = run_mesh("nodes", "--port-expose", str(node.port), "--json")
    assert [n["name"] for n in json.loads(as_json.stdout)] == [node.name]


def test_a_cordoned_node_takes_no_flow_until_uncordoned(clean_node: JinadNode) -> None:
    port = str(clean_node.port)
    yaml_text = (REPO / "examples" / "dummy_flow.yml").read_text(encoding="utf-8")
    cordoned = run_mesh("cordon", clean_node.name, "--port-expose", port)
    try:
        assert cordoned.returncode == 0, cordoned.stderr
        assert cordoned.stdout == f"node {clean_node.name}: cordoned\n"
        listed = run_mesh("nodes", "--port-expose", port).stdout.splitlines()[1].split()
        assert listed[:2] == [clean_node.name, "cordoned"]
        with pytest.raises(ConflictError) as refused:  # its only node takes nothing new: a 409
            clean_node.edge.create_flow(yaml_text)
        assert "cordoned" in refused.value.message
        assert pea_pids_of(clean_node.proc.pid) == [] and clean_node.edge.flows() == []
    finally:
        uncordoned = run_mesh("uncordon", clean_node.name, "--port-expose", port)
    assert uncordoned.returncode == 0 and uncordoned.stdout.endswith(": ready\n"), uncordoned.stderr
    flow_id = clean_node.edge.create_flow(yaml_text)["flow_id"]
    clean_node.edge.delete_flow(flow_id)
    unknown = run_mesh("cordon", "nobody", "--port-expose", port)
    assert unknown.returncode == 1 and "no live node 'nobody'" in unknown.stderr
    assert_quiet_error(unknown)


# -- mesh logs -----------------------------------------------------------------------------
@pytest.fixture
def dummy_flow(clean_node: JinadNode) -> Iterator[str]:
    """The seed's dummy Flow, put on the node as a user's script does."""
    yaml_text = (REPO / "examples" / "dummy_flow.yml").read_text(encoding="utf-8")
    flow_id = str(clean_node.edge.create_flow(yaml_text)["flow_id"])
    yield flow_id
    try:
        clean_node.edge.delete_flow(flow_id)
    except NotFoundError:
        pass


def test_logs_prints_a_flows_lines_from_the_first(clean_node: JinadNode, dummy_flow: str) -> None:
    result = run_mesh("logs", dummy_flow, "--host", "127.0.0.1", "--port-expose", str(clean_node.port))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for pea in ("gateway", "pod0", "pod1"):
        assert any(re.fullmatch(rf"{clean_node.name}/{pea}@\d+\[I\]:ready and listening", line)
                   for line in lines), lines
    assert re.fullmatch(rf"{clean_node.name}/\S+@\d+\[I\]:.*", lines[0])
    only_pod1 = run_mesh("logs", dummy_flow, "--port-expose", str(clean_node.port), "--pod", "pod1")
    assert only_pod1.stdout and all(line.startswith(f"{clean_node.name}/pod1@")
                                    for line in only_pod1.stdout.splitlines())


@pytest.mark.timeout(60)
def test_logs_follow_ends_when_the_flow_is_deleted(clean_node: JinadNode, dummy_flow: str,
                                                   mesh_process: Callable[..., MeshProcess]) -> None:
    mesh = mesh_process("logs", dummy_flow, "--port-expose", str(clean_node.port), "--follow")
    mesh.wait_for_line(r"/pod1@\d+\[I\]:ready and listening$")

    clean_node.edge.delete_flow(dummy_flow)

    mesh.wait_for_line(r"/pod1@\d+\[I\]:terminated")
    assert mesh.wait(15) == 0


def test_logs_of_an_unknown_id_is_an_error(node: JinadNode) -> None:
    result = run_mesh("logs", "no-such-flow", "--port-expose", str(node.port))

    assert result.returncode == 1
    assert_quiet_error(result)
    assert "no-such-flow" in result.stderr


# -- --token -------------------------------------------------------------------------------
@pytest.mark.timeout(90)
def test_token_is_needed_and_passed(jinad_factory: JinadFactory, tmp_path: Path) -> None:
    node = jinad_factory(token=TOKEN)
    port = str(node.port)

    refused = run_mesh("nodes", "--port-expose", port)
    assert refused.returncode == 1
    assert_quiet_error(refused)
    assert "401" in refused.stderr and "missing token" in refused.stderr
    wrong = run_mesh("logs", "some-flow", "--port-expose", port, "--token", "wrong")
    assert wrong.returncode == 1 and "401" in wrong.stderr and "wrong token" in wrong.stderr
    pod = run_mesh("pod", "--uses", "_logforward", "--host", "127.0.0.1", "--port-expose", port)
    assert pod.returncode == 1 and "401" in pod.stderr
    assert_quiet_error(pod)

    accepted = run_mesh("nodes", "--port-expose", port, "--token", TOKEN)
    assert accepted.returncode == 0, accepted.stderr
    assert node.name in accepted.stdout
    from_env = run_mesh("nodes", "--port-expose", port, env={"JINAD_TOKEN": TOKEN})
    assert from_env.returncode == 0, from_env.stderr
    assert node.name in from_env.stdout
