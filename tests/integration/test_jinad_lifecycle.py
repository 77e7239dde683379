"""The daemon's life: one ready line and one summary line, graceful SIGTERM, Peas that die
with a SIGKILLed daemon, a restart that stops what the previous life left, and a node that
stops leaving the mesh at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.procs import running
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

DUMMY_FLOW = (Path(__file__).resolve().parents[2] / "examples" / "dummy_flow.yml").read_text()


def _brokers_on(store: Path) -> list[int]:
    """nats-server processes using this JetStream store directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"nats-server") and str(store).encode() in argv:
                found.append(int(entry.name))
    return [p for p in found if running(p)]


def test_sigterm_logs_ready_and_summary_and_exits_0(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(host="0.0.0.0")  # advertised (and dialled) as 127.0.0.1
    put_flow(node, DUMMY_FLOW)
    peas = pea_pids_of(node.proc.pid)
    assert len(peas) == 3
    assert len(_brokers_on(node.state_dir / "nats")) == 1

    assert node.stop(signal.SIGTERM) == 0
    lines = node.log().splitlines()
    ready = [ln for ln in lines if "ready: edge" in ln]
    summary = [ln for ln in lines if " stopped after " in ln]
    assert len(ready) == 1 and f"jinad {node.name} ready" in ready[0], lines
    assert f"edge http://0.0.0.0:{node.port}" in ready[0] and "mesh size 1" in ready[0]
    assert "advertised as 127.0.0.1" in ready[0]
    warning = [ln for ln in lines if "without a token" in ln]  # bound beyond loopback
    assert len(warning) == 1 and "[W]" in warning[0]
    assert len(summary) == 1, lines
    assert "3 Peas spawned, 3 stopped" in summary[0]
    assert not any(running(p) for p in peas)
    assert not _brokers_on(node.state_dir / "nats")  # the embedded broker stopped with it
    assert "Traceback" not in node.log()


SLOW_CLOSE_PY = b"""\
import time
from mesh import Executor


class SlowClose(Executor):
    def close(self):
        time.sleep(2)
"""


def test_a_second_signal_exits_at_once(jinad_factory: Any) -> None:
    """The graceful stop waits for a Pea whose executor takes 2 s to close; a second SIGTERM
    does not: jinad exits 1, its broker goes with it, the Pea ends when its close is done."""
    node: JinadNode = jinad_factory()
    text = "!Flow\nversion: 1\npods:\n  - name: slow\n    uses: slowclose:SlowClose\n"
    put_flow(node, text, {"slowclose.py": SLOW_CLOSE_PY})
    peas = pea_pids_of(node.proc.pid)
    node.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "send the signal again" in node.log(), timeout_s=5, what="the first stop")
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(2) == 1
    assert "second signal: exiting now" in node.log()
    wait_for(lambda: not _brokers_on(node.state_dir / "nats"), timeout_s=2,
               what="the embedded nats-server to be killed")
    wait_for(lambda: not any(running(p) for p in peas), timeout_s=5, what="the Peas to end")


def test_peas_exit_when_jinad_is_sigkilled(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory()
    put_flow(node, DUMMY_FLOW)
    peas = pea_pids_of(node.proc.pid)
    assert len(peas) == 3
    node.proc.kill()
    node.proc.wait(5)
    wait_for(lambda: not any(running(p) for p in peas), timeout_s=5,
               what="the Peas of a SIGKILLed jinad to exit")
    # the embedded nats-server dies with it too (parent-death signal)
    wait_for(lambda: not _brokers_on(node.state_dir / "nats"), timeout_s=10,
               what="the embedded nats-server of a SIGKILLed jinad to exit")


def test_restart_stops_what_the_previous_life_left(jinad_factory: Any) -> None:
    """A Pea that cannot notice its daemon died: SIGSTOP freezes it (as a Pea stuck in a
    blocking call would be), so its parent watch never runs; then jinad is SIGKILLed.
    The other Peas and the embedded nats-server exit on their own; the frozen one stays.
    A jinad started on the same state dir reads the books its previous life wrote
    (peas.json) and stops the Pea."""
    first: JinadNode = jinad_factory(name="phoenix")
    created = put_flow(first, DUMMY_FLOW)
    peas = pea_pids_of(first.proc.pid)
    frozen = peas[0]
    os.kill(frozen, signal.SIGSTOP)
    first.proc.kill()
    first.proc.wait(5)
    wait_for(lambda: not any(running(p) for p in peas if p != frozen), timeout_s=5,
               what="the other Peas to exit")
    assert running(frozen)
    wait_for(lambda: not _brokers_on(first.state_dir / "nats"), timeout_s=10,
               what="the old embedded nats-server to exit")

    second: JinadNode = jinad_factory(name="phoenix", state_dir=first.state_dir)
    wait_for(lambda: not running(frozen), timeout_s=5, what="the frozen Pea to be stopped")
    log = second.log()
    assert f"(pid {frozen}) left by a previous jinad" in log
    assert len(_brokers_on(first.state_dir / "nats")) == 1  # only the new life's broker

    # the flow's record survived in the broker's store: it says its Peas died with the old
    # life, and deleting it works and leaves nothing
    info = requests.get(f"{second.url}/flow/{created['flow_id']}", timeout=5).json()
    assert info["status"] == "degraded", info
    assert {p["status"] for p in info["pods"]} == {"lost"}, info["pods"]
    r = requests.delete(f"{second.url}/flow", params={"flow_id": created["flow_id"]}, timeout=30)
    assert r.status_code == 200, r.text
    assert requests.get(f"{second.url}/flows", timeout=5).json()["flows"] == []
    assert not pea_pids_of(second.proc.pid)


def test_a_stopping_node_leaves_the_mesh_at_once(jinad_factory: Any) -> None:
    a: JinadNode = jinad_factory(name="alpha")
    b: JinadNode = jinad_factory(name="beta", extra=a.join_args("beta"))  # its own users
    names = wait_for(lambda: [n["name"] for n in a.edge.nodes()] == ["alpha", "beta"],
                       timeout_s=5, what="both nodes in GET /nodes")
    assert names
    assert requests.get(f"{b.url}/alive", timeout=5).json()["mesh_size"] == 2
    assert b.stop(signal.SIGTERM) == 0
    # at once: well before the 3 s TTL the fixture gives the node records
    assert [n["name"] for n in a.edge.nodes()] == ["alpha"]
    assert requests.get(f"{a.url}/alive", timeout=5).json()["mesh_size"] == 1
