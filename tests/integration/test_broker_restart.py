"""The control plane survives its broker: a jinad whose embedded nats-server is SIGKILLed starts
it again on the same port and store, its connections come back by themselves, and a running
Flow serves throughout (its data path is ZeroMQ). While the broker stays away, nothing leaks
and jinad still stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh import Client, Document
from mesh.agents.reconcile import brokers_on
from mesh.daemon.credentials import AUTH_CONF
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.procs import running
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

FLOW = "!Flow\nversion: 1\npods:\n  - name: a\n    uses: _logforward\n  - name: b\n    uses: _pass\n"
RESTART_BOUND_S = 5.0   # from the SIGKILL to the broker listening again
BACK_BOUND_S = 15.0     # from the SIGKILL to GET /nodes answering (nats-py reconnects every 2 s)


def _index(flow: dict[str, Any], text: str) -> None:
    got: list[Any] = []
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
        client.index([Document(text=text)], on_done=got.append)
    assert len(got) == 1 and got[0].num_docs == 1, got


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _nodes_ok(node: JinadNode) -> bool:
    try:
        return requests.get(f"{node.url}/nodes", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _broker(node: JinadNode) -> tuple[int, int]:
    """(pid, port) of the node's one embedded broker."""
    pids = brokers_on(node.state_dir / "nats")
    assert len(pids) == 1, pids
    return pids[0], int(node.nats_url().rsplit(":", 1)[1])


def _stopped_cleanly(node: JinadNode, peas: list[int]) -> None:
    assert node.stop(signal.SIGTERM) == 0
    log = node.log()
    assert "Traceback" not in log, log[-4000:]
    assert " stopped after " in log
    assert not any(running(p) for p in peas) and not pea_pids_of(node.proc.pid)
    assert not brokers_on(node.state_dir / "nats")


def test_a_killed_broker_comes_back_on_its_port_and_the_mesh_goes_on(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(name="sturdy")
    flow = put_flow(node, FLOW)
    peas = pea_pids_of(node.proc.pid)
    old, port = _broker(node)

    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    _index(flow, "while the broker is away")  # the data path does not touch NATS

    wait_for(lambda: (pids := brokers_on(node.state_dir / "nats")) and old not in pids
             and _listening(port), timeout_s=RESTART_BOUND_S, interval_s=0.02,
             what=f"a new broker on port {port}")
    restart_s = time.monotonic() - killed
    try:
        wait_for(lambda: _nodes_ok(node), timeout_s=BACK_BOUND_S, interval_s=0.05,
                 what="GET /nodes to answer again")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{node.log()[-6000:]}") from exc
    back_s = time.monotonic() - killed
    print(f"broker restarted on port {port} {restart_s:.2f} s after SIGKILL; "
          f"GET /nodes answered after {back_s:.2f} s")

    new, same_port = _broker(node)
    assert new != old and same_port == port and not running(old)  # reaped, no zombie
    assert f"is back on port {port}" in node.log()
    assert pea_pids_of(node.proc.pid) == peas  # nothing restarted but the broker
    _index(flow, "after the broker came back")
    r = requests.delete(f"{node.url}/flow", params={"flow_id": flow["flow_id"]}, timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: not any(running(p) for p in peas), timeout_s=10, what="the Flow's Peas to end")
    _stopped_cleanly(node, peas)


def test_while_the_broker_stays_away_the_flow_serves_and_jinad_stops_cleanly(
        jinad_factory: Any) -> None:
    """The broker cannot come back (its users file is broken): the keeper retries with a
    back-off and starts no stray server; the Flow keeps serving; SIGTERM still ends jinad
    with its Peas and nothing left."""
    node: JinadNode = jinad_factory(name="stoic")
    flow = put_flow(node, FLOW)
    peas = pea_pids_of(node.proc.pid)
    old, _ = _broker(node)
    conf: Path = node.state_dir / AUTH_CONF
    conf.write_text("authorization {\n")  # nats-server refuses to start with it

    os.kill(old, signal.SIGKILL)
    wait_for(lambda: node.log().count("did not restart") >= 2, timeout_s=15,
             what="two failed restarts, logged")
    assert not brokers_on(node.state_dir / "nats") and not running(old)
    _index(flow, "the broker is away for good")
    r = requests.get(f"{node.url}/nodes", timeout=15)
    assert r.status_code >= 500, r.text

    _stopped_cleanly(node, peas)
