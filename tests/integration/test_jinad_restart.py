"""A jinad restarted on its state dir re-creates the pods its Flows still place on it (the
desired state in the Flow records), on the same ports; a Flow deleted meanwhile is not."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from mesh import Client, Document
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

TWO_PODS = ("!Flow\nversion: 1\npods:\n  - name: a\n    uses: _logforward\n"
            "  - name: b\n    uses: _pass\n    replicas: 2\n")


def _index(flow: dict[str, Any]) -> None:
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=30) as client:
        results = client.index([Document(text="hello again")])
    assert results is not None and results[0].num_docs == 1


def test_a_restarted_jinad_runs_its_flows_again(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(name="phoenix")
    kept = put_flow(node, TWO_PODS)
    gone = put_flow(node, TWO_PODS)
    _index(kept)
    before = pea_pids_of(node.proc.pid)
    assert len(before) == 2 * (1 + 1 + 4)  # each: a gateway, a, b's head, tail and 2 replicas
    node.edge.delete_flow(gone["flow_id"])

    assert node.stop() == 0  # its Peas stop with it; the Flow records stay in the broker's store
    node = jinad_factory(name="phoenix", state_dir=node.state_dir)

    def status() -> tuple[str, list[str]]:
        body = node.edge.get_flow(kept["flow_id"])
        return body["status"], [p["status"] for p in body["pods"]]

    wait_for(lambda: status() == ("running", ["running", "running"]), timeout_s=20,
             what="the kept Flow running again")
    after = node.edge.get_flow(kept["flow_id"])
    assert (after["host"], after["port"]) == (kept["host"], kept["port"])  # the same gateway port
    _index(kept)
    wait_for(lambda: len(pea_pids_of(node.proc.pid)) == 6, timeout_s=10,
             what="six Peas: the kept Flow's, none of the deleted one's")
    assert [f["flow_id"] for f in node.edge.flows()] == [kept["flow_id"]]
    assert "re-created pod" in node.log()
    assert not (node.state_dir / "spawns" / gone["flow_id"]).exists()
    node.edge.delete_flow(kept["flow_id"])
    assert pea_pids_of(node.proc.pid) == []
    assert not (node.state_dir / "spawns" / kept["flow_id"]).exists()


def test_a_pea_that_ran_long_enough_starts_its_restart_count_afresh(jinad_factory: Any) -> None:
    """One restart allowed, counted afresh once a Pea ran 1.5 s: two kills far apart are
    both restarted; two kills in quick succession spend the policy and fail the pod."""
    node: JinadNode = jinad_factory(name="crashy")
    flow = put_flow(node, "!Flow\nversion: 1\npods:\n  - name: a\n    uses: _pass\n"
                          "    restart: {attempts: 1, delay_s: 0, reset_after_s: 1.5}\n")

    def pod() -> dict[str, Any]:
        return dict(node.edge.get_flow(flow["flow_id"])["pods"][0])

    def pea_a() -> list[int]:  # the Pea of pod a (the other one is the gateway)
        return [p for p in pea_pids_of(node.proc.pid) if json.loads(
            Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[-2]).get("pod") == "a"]

    def kill_and_wait(restarts: int) -> None:
        (pid,) = pea_a()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: (pod()["status"], pod()["restarts"]) == ("running", restarts)
                 and pea_a() not in ([], [pid]), timeout_s=15, what=f"restart {restarts}")

    kill_and_wait(1)
    time.sleep(2.0)  # longer than reset_after_s: the next exit is a first one again
    kill_and_wait(2)
    _index(flow)
    (pid,) = pea_a()
    os.kill(pid, signal.SIGKILL)  # at once: the second exit in a row, and one restart allowed
    wait_for(lambda: pod()["status"] == "failed", timeout_s=15, what="pod a failed")
    assert pod()["reason"].startswith("a exited with code -9 after 2 restarts")
    node.edge.delete_flow(flow["flow_id"])
