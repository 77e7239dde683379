"""A remote pod in the Flow API (the seed's ``.add(uses='_logforward', host=H, port_expose=8000)``):
it runs on the node, its logs come back marked with 🌏, and the node keeps nothing of it once
the ``with`` block ends, normally, by exception, or by the local process being killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.errors import FlowConfigError
from mesh.flow.flow import Flow
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.procs import mesh_children
from tests.fixtures.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_node")]

REPO = Path(__file__).resolve().parents[2]


def _pod(node: JinadNode, pod_id: str) -> requests.Response:
    return requests.get(f"{node.url}/pod/{pod_id}", timeout=5)


def _seed_flow(node: JinadNode, **flow_args: Any) -> Flow:
    return (Flow(**flow_args)
            .add(uses='_logforward')
            .add(uses='_logforward', host=node.host, port_expose=node.port))


def test_pod1_runs_on_the_node_with_its_logs_here(node: JinadNode,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    f = _seed_flow(node)
    seen = ""
    with f:
        pod_id = f"{f.flow_id}-pod1"
        body = _pod(node, pod_id).json()
        assert body["node"] == node.name and body["status"] == "running"
        assert [p["name"] for p in body["peas"]] == ["pod1"]
        assert pea_pids_of(node.proc.pid) == [body["peas"][0]["pid"]]  # only pod1 runs there
        results = f.index_lines(lines=['hello', 'jina'])
        assert [d.text for r in results or [] for d in r.docs] == ["hello", "jina"]

        def recv_line_shown() -> bool:
            nonlocal seen
            seen += capfd.readouterr().err
            return any(ln.startswith("🌏 pod1@") and "recv" in ln for ln in seen.splitlines())

        wait_for(recv_line_shown, timeout_s=10, what="pod1's recv line with 🌏 on stderr")
    seen += capfd.readouterr().err
    assert "🌏 pod1@" in seen and "ready" in seen
    assert _pod(node, pod_id).status_code == 404
    assert not pea_pids_of(node.proc.pid)


def test_host_by_node_name_is_placed_through_the_flows_edge(node: JinadNode) -> None:
    """``host`` names a node by its mesh name (no DNS for it); ``Flow(edge=...)`` is the one
    jinad edge this process reaches, and that edge places the pod on the named node."""
    f = (Flow(edge=f"{node.host}:{node.port}")
         .add(uses='_logforward')
         .add(uses='_logforward', host=node.name))
    with f:
        body = _pod(node, f"{f.flow_id}-pod1").json()
        assert body["node"] == node.name and body["status"] == "running"
        results = f.index_lines(lines=['by name'])
        assert [d.text for r in results or [] for d in r.docs] == ['by name']
    assert _pod(node, f"{f.flow_id}-pod1").status_code == 404


def test_an_unknown_node_name_is_a_clear_error_and_leaves_nothing(node: JinadNode) -> None:
    f = Flow(edge=f"{node.host}:{node.port}").add(uses='_pass', host='no-such-node')
    with pytest.raises(FlowConfigError, match=f"'no-such-node', which is no node.*{node.name}"):
        f.start()
    wait_for(lambda: not mesh_children(), timeout_s=5, what="the Peas of this process to exit")
    assert not pea_pids_of(node.proc.pid)


def test_removed_when_the_with_block_raises(node: JinadNode) -> None:
    f = _seed_flow(node)
    with pytest.raises(RuntimeError, match="user code failed"), f:
        assert len(pea_pids_of(node.proc.pid)) == 1
        raise RuntimeError("user code failed")
    assert _pod(node, f"{f.flow_id}-pod1").status_code == 404
    assert not pea_pids_of(node.proc.pid)


def test_removed_when_the_start_fails(node: JinadNode) -> None:
    """A local pod that cannot start: the remote pod, already started, is removed too."""
    f = (Flow()
         .add(uses='_logforward', host=node.host, port_expose=node.port)
         .add(uses='tests.integration.executors.basic:NoSuchExecutor'))
    with pytest.raises(Exception, match="NoSuchExecutor"), f:
        pass
    assert _pod(node, f"{f.flow_id}-pod0").status_code == 404
    assert not pea_pids_of(node.proc.pid)


def test_unknown_executor_on_the_remote_pod(node: JinadNode) -> None:
    f = Flow().add(name="far", uses='_nope', host=node.host, port_expose=node.port)
    with pytest.raises(Exception, match="_nope") as info:
        f.start()
    assert getattr(info.value, "status", None) == 400 and "'far'" in str(info.value)
    assert not pea_pids_of(node.proc.pid)


LOCAL_SCRIPT = """\
import sys
from mesh import Flow

f = (Flow(lease_s=2)
     .add(uses='_logforward')
     .add(uses='_logforward', host='127.0.0.1', port_expose=int(sys.argv[1])))
with f:
    print('READY', f.flow_id, flush=True)
    sys.stdin.read()
"""


def test_node_removes_the_pod_when_the_local_process_is_killed(node: JinadNode,
                                                               tmp_path: Path) -> None:
    script = tmp_path / "local_flow.py"
    script.write_text(LOCAL_SCRIPT)
    with open(tmp_path / "local.log", "wb") as log:
        local = subprocess.Popen([sys.executable, str(script), str(node.port)], cwd=REPO,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        assert local.stdout is not None
        line = local.stdout.readline().decode()
        assert line.startswith("READY "), (line, (tmp_path / "local.log").read_text())
        pod_id = f"{line.split()[1]}-pod1"
        assert _pod(node, pod_id).json()["status"] == "running"
        assert len(pea_pids_of(node.proc.pid)) == 1

        local.send_signal(signal.SIGKILL)
        local.wait(5)
        killed = time.monotonic()
        # its local Peas follow their parent; the node waits out the lease (2 s) and then
        # removes the pod, its record included
        wait_for(lambda: not mesh_children(local.pid), timeout_s=5.0,
                 what="the local Peas to follow their killed parent")
        wait_for(lambda: not pea_pids_of(node.proc.pid), timeout_s=8,
                 what="the node to remove the pod after its lease")
        assert time.monotonic() - killed >= 1.0  # not before the lease ran out
        wait_for(lambda: _pod(node, pod_id).status_code == 404, timeout_s=3,
                 what="the pod's record to be removed")
        assert "lease of pod pod1" in node.log()
    finally:
        if local.poll() is None:
            local.kill()
            local.wait(5)
        if local.stdout is not None:
            local.stdout.close()
        if local.stdin is not None:
            local.stdin.close()
