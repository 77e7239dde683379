"""Image pods run by ``jinad``: uploaded executor files mounted, container logs on NATS like
process logs, DELETE /flow and a failed start removing the containers, a restarted node
removing those of its previous life, and the errors of a node with no image or no engine."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh import Client, Document, Flow
from mesh.events import subjects
from tests.container.support import (
    IMAGE,
    TAGGER_PY,
    containers,
    index_until_every_replica,
    jinad_name,
    tagger_yaml,
)
from tests.fixtures.jinad import JinadNode
from tests.fixtures.logtap import LogTap
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.container


def _flow_yaml(image: str = IMAGE, replicas: int = 2, uses: str = "exec/tagger.yml") -> str:
    return (f"!Flow\nversion: 1\npods:\n  - name: pre\n    uses: _pass\n"
            f"  - name: enc\n    uses: {uses}\n    image: {image}\n    replicas: {replicas}\n")


def _files(**with_: Any) -> dict[str, bytes]:
    return {"exec/tagger.yml": tagger_yaml(**with_).encode(), "exec/tagger.py": TAGGER_PY.encode()}


@pytest.fixture(scope="module")
def node(jinad_module_factory: Any) -> JinadNode:
    return jinad_module_factory(name=jinad_name("ctr"))


@pytest.fixture
def clean(node: JinadNode) -> Iterator[JinadNode]:
    yield node
    assert_clean(node)


def test_container_logs_reach_nats_and_delete_removes_the_containers(
        docker_engine: Any, clean: JinadNode) -> None:
    node = clean
    with LogTap(node.nats_url("logs")) as tap:
        r = upload(node, _flow_yaml(), _files())
        assert r.status_code == 200, r.text
        created = r.json()
        flow_id = created["flow_id"]
        boxes = containers(docker_engine, flow=flow_id)
        assert sorted(b.labels["mesh.pea"] for b in boxes) == ["enc/0", "enc/1"]
        assert {b.labels["mesh.node"] for b in boxes} == {node.name}
        workspace = node.state_dir / "workspace" / flow_id
        for box in boxes:  # the flow's uploaded files, read-only, at the same path
            (mount,) = [m for m in box.attrs["Mounts"] if m["Destination"] == str(workspace)]
            assert mount["RW"] is False

        with Client(host=created["host"], port_expose=created["port"]) as client:
            results = index_until_every_replica(partial(client.index, request_size=1), 2)
        assert {d.tags["replica"] for r in results for d in r.docs} == {0, 1}

        for pea in ("enc/0", "enc/1"):
            subject = subjects.logs(flow_id, "enc", pea)  # jinad.logs.<flow>.enc.enc~0
            assert subject == f"jinad.logs.{flow_id}.enc.enc~{pea[-1]}"
            wait_for(partial(tap.has, subject, "ready and listening"), timeout_s=10,
                     what=f"the ready line of {pea} on {subject}")

        def tagged() -> list[str]:
            return [r["pea"] for r in list(tap.records) if r["flow"] == flow_id
                    and r["message"] == "TAGGER enc tags 1 docs"]

        wait_for(lambda: len(tagged()) == len(results), timeout_s=10,
                 what="a line per request from the executors")
        assert set(tagged()) == {"enc/0", "enc/1"}
        records = [r for r in list(tap.records) if r["pea"] in ("enc/0", "enc/1")]
        assert {r["node"] for r in records} == {node.name} and {r["level"] for r in records} >= {"INFO"}

        deleted = requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=60)
        assert deleted.status_code == 200, deleted.text
        assert containers(docker_engine, flow=flow_id) == []
        assert not workspace.exists()
        wait_for(partial(tap.has, subjects.logs(flow_id, "enc", "enc/0"), "terminated"),
                 timeout_s=10, what="the last line of enc/0, shipped before its removal")


def test_image_pod_placed_on_this_node_from_a_local_flow(
        docker_engine: Any, clean: JinadNode, tagger: Path) -> None:
    """``Flow.add(host=<node>, image=...)``: that node's jinad starts the container; the
    Flow's processes dial it at the node's address (the ports it publishes are on that node)."""
    node = clean
    flow = (Flow().add(name="p0", uses="_pass")
            .add(name="far", uses=str(tagger), image=IMAGE, host=node.host, port_expose=node.port)
            .add(name="p2", uses="_pass"))
    with flow:
        plan = flow.plan
        assert plan is not None
        far = plan.pod("far")
        assert far.node.name == node.name
        (box,) = containers(docker_engine, flow=flow.flow_id)
        assert box.labels["mesh.node"] == node.name and box.labels["mesh.pea"] == "far"
        assert box.labels["mesh.owner"].endswith(f":{node.proc.pid}")
        port_in = next(s.port for s in far.entry.inputs if s.mode == "bind")
        port_out = next(s.port for s in far.exit.outputs if s.mode == "bind")
        published = {int(k.split("/")[0]) for k, v in box.attrs["NetworkSettings"]["Ports"].items() if v}
        assert published == {port_in, port_out, far.entry.port_ctrl}
        assert [a for s in plan.pod("p0").exit.outputs for a in s.addresses] == [f"{node.host}:{port_in}"]
        results = flow.index([Document(text="there")])
        assert results is not None and not results[0].failed
        assert [e["pod"] for e in results[0].route] == ["gateway", "p0", "far", "p2"]
        assert results[0].docs[0].tags["hosts"] == [box.attrs["Config"]["Hostname"]]
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_missing_image_on_the_node_is_a_400_naming_pod_and_image(clean: JinadNode) -> None:
    began = time.monotonic()
    r = upload(clean, _flow_yaml(image="mesh-test-missing:0.2"), _files())
    assert time.monotonic() - began < 15
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith(f"pod 'enc' on node {clean.name}: image 'mesh-test-missing:0.2' is not on")
    assert r.json()["detail"]["image"] == "mesh-test-missing:0.2"


def test_missing_executor_yaml_of_an_image_pod_is_a_400_before_any_container(
        docker_engine: Any, clean: JinadNode) -> None:
    began_ns = time.time_ns()
    r = upload(clean, _flow_yaml(uses="exec/missing.yml"), _files())
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith(f"pod 'enc' on node {clean.name}: uses: executor YAML file")
    assert "exec/missing.yml" in message
    events = docker_engine.events(since=began_ns // 10**9, until=time.time_ns() // 10**9 + 1,
                                  decode=True, filters={"type": "container", "event": "create",
                                                        "label": f"mesh.node={clean.name}"})
    assert [e for e in events if e["timeNano"] >= began_ns] == []  # no container was created


def test_container_that_exits_early_is_reported_with_code_and_lines(clean: JinadNode) -> None:
    r = upload(clean, _flow_yaml(replicas=1), _files(fail=True))
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["message"].startswith(f"pod 'enc' on node {clean.name}: enc (pod 'enc', container "
                                      f"of image '{IMAGE}') exited with code 1 before it was ready")
    assert body["detail"]["exit_code"] == 1
    assert any("Tagger refuses to start" in line for line in body["detail"]["log_tail"])


def test_restarted_node_removes_the_containers_of_its_previous_life(
        docker_engine: Any, jinad_factory: Any) -> None:
    name = jinad_name("rst")
    first = jinad_factory(name=name)
    r = upload(first, _flow_yaml(replicas=1), _files())
    assert r.status_code == 200, r.text
    flow_id = r.json()["flow_id"]
    (box,) = containers(docker_engine, flow=flow_id)
    first.stop(signal.SIGKILL)
    box.reload()
    assert box.status == "running"  # a SIGKILLed jinad cannot stop anything
    second = jinad_factory(name=name, state_dir=first.state_dir)
    assert "stopped" in second.log() and "previous life" in second.log()
    # the old life's container is removed; the Flow's record, which outlives the restart, has
    # the node start its pod again: a new container, the Flow running; DELETE stops it
    wait_for(lambda: requests.get(f"{second.url}/flow/{flow_id}", timeout=5).json()["status"]
             == "running", timeout_s=60, what="the pod re-created and the Flow running again")
    (again,) = containers(docker_engine, node=name)
    assert again.id != box.id and again.status == "running"
    assert requests.delete(f"{second.url}/flow", params={"flow_id": flow_id}, timeout=60).status_code == 200
    assert_clean(second)


def test_node_without_a_docker_engine_names_docker_pod_and_node(jinad_factory: Any) -> None:
    node = jinad_factory(name=jinad_name("nodkr"), env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    began = time.monotonic()
    r = upload(node, _flow_yaml(replicas=1), _files())
    assert time.monotonic() - began < 15
    assert r.status_code == 503, r.text
    message = r.json()["message"]
    assert message.startswith(f"pod 'enc' on node {node.name}: pod 'enc' (enc, image '{IMAGE}'): "
                              "no Docker engine answers at unix:///nonexistent.sock")
    assert_clean(node)
