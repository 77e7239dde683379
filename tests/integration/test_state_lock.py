"""One daemon per state dir and one name per mesh: a second jinad on a running one's state dir
leaves at once naming it (and touches none of its Peas or its broker); a jinad from another
state dir under a live node's name is refused; the same state dir restarting within the TTL
rejoins."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mesh import Client, Document
from mesh.agents.reconcile import brokers_on
from mesh.daemon.broker import NatsServer
from mesh.net.ports import free_port
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.procs import running
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

FLOW = "!Flow\nversion: 1\npods:\n  - name: a\n    uses: _logforward\n  - name: b\n    uses: _pass\n"


def _jinad(state_dir: Path, *args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """A jinad that is expected to exit by itself."""
    return subprocess.run([sys.executable, "-m", "mesh.daemon.main", "--state-dir", str(state_dir),
                           "--port", str(free_port()), "--heartbeat-interval-s", "0.5", *args],
                          capture_output=True, text=True, timeout=timeout_s, check=False)


def _index(flow: dict[str, Any]) -> None:
    got: list[Any] = []
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
        client.index([Document(text="still here")], on_done=got.append)
    assert len(got) == 1 and got[0].num_docs == 1, got


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``jinad: error:`` line (the rest of the output is log lines), no traceback."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    errors = [ln for ln in out.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("jinad: error: "), out
    return errors[0]


def test_a_second_jinad_on_the_same_state_dir_leaves_the_first_alone(jinad_factory: Any) -> None:
    first: JinadNode = jinad_factory(name="owner")
    flow = put_flow(first, FLOW)
    peas = pea_pids_of(first.proc.pid)
    brokers = brokers_on(first.state_dir / "nats")
    assert len(peas) == 3 and len(brokers) == 1

    second = _jinad(first.state_dir, "--name", "owner", "--nats-port", "0")

    assert second.returncode == 1
    line = _one_error_line(second)
    assert f"in use by jinad owner (pid {first.proc.pid}, edge port {first.port})" in line, line
    # before this lock, the second one stopped the first one's broker and Peas
    assert first.proc.poll() is None
    assert pea_pids_of(first.proc.pid) == peas and all(running(p) for p in peas)
    assert brokers_on(first.state_dir / "nats") == brokers
    _index(flow)
    assert first.edge.nodes()[0]["name"] == "owner"
    first.edge.delete_flow(flow["flow_id"])


def test_a_name_live_under_another_state_dir_is_refused(jinad_factory: Any,
                                                        nats_server: NatsServer,
                                                        tmp_path: Path) -> None:
    twin: JinadNode = jinad_factory(name="twin", nats=nats_server.url)

    other = _jinad(tmp_path / "other-state", "--name", "twin", "--nats", nats_server.url)

    assert other.returncode == 1
    line = _one_error_line(other)
    assert line.startswith("jinad: error: node name twin is taken: another jinad (at 127.0.0.1, "
                           f"edge port {twin.port},"), line
    assert twin.proc.poll() is None and [n["name"] for n in twin.edge.nodes()] == ["twin"]
    assert twin.edge.nodes()[0]["port"] == twin.port  # its record is still its own


def test_the_same_state_dir_rejoins_within_the_ttl(jinad_factory: Any, nats_server: NatsServer) -> None:
    """SIGKILLed, the node cannot leave the mesh: its record lives on for the TTL (30 s here),
    and the same state dir (the same instance key) takes its name back at once."""
    ttl = ["--node-ttl-s", "30"]
    first: JinadNode = jinad_factory(name="phoenix", nats=nats_server.url, extra=ttl)
    first.stop(signal.SIGKILL)

    again: JinadNode = jinad_factory(name="phoenix", nats=nats_server.url, extra=ttl,
                                     state_dir=first.state_dir)

    assert "node phoenix rejoins the mesh" in again.log()
    nodes = again.edge.nodes()
    assert [n["name"] for n in nodes] == ["phoenix"] and nodes[0]["port"] == again.port
