"""The BIND/CONNECT table of JEP 2, each cell one machine can reach, with real traffic.

Local cells: a process dials a container's published port at the Docker bridge's address
(docker0, resolved by the dialling Pea; the loopback would pass docker-proxy); a container dials
a port bound on its host (a process's, or another container's published one) at
``host.docker.internal``; a container on the host's network dials 127.0.0.1. Remote cells:
a container dials a Pea of a node in another network namespace at that node's address, in
both directions of the Flow. A container of a pod placed on another jinad is dialled at
that node's address: see test_container_jinad.py (a node on this machine's network; one in
a namespace cannot be, see the skipped test below).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh import Document, Flow
from mesh.flow.addresses import DOCKER_BRIDGE
from mesh.flow.topology import PodPlan
from tests.container.support import IMAGE, containers, jinad_name
from tests.fixtures.jinad import JinadNode, start_jinad
from tests.netns import Host, Net

pytestmark = pytest.mark.container

DOCKER_HOST = "host.docker.internal"
BRIDGE = DOCKER_BRIDGE  # the dialling Pea turns it into its docker0 address


def _dials(pp: PodPlan) -> list[str]:
    return [a for s in pp.exit.outputs if s.mode == "connect" for a in s.addresses]


def _bound_in(pp: PodPlan) -> int:
    return next(s.port for s in pp.entry.inputs if s.mode == "bind")  # type: ignore[return-value]


def _published(box: Any) -> set[int]:
    return {int(k.split("/")[0]) for k, v in (box.attrs["NetworkSettings"]["Ports"] or {}).items() if v}


def test_local_cells_process_container_and_host_network(docker_engine: Any, tagger: Path) -> None:
    """gateway(process) -> c1 -> pod1(process) -> c2 -> c3 -> h4(network host) -> gateway."""
    uses = str(tagger)
    flow = (Flow().add(name="c1", uses=uses, image=IMAGE)
            .add(name="pod1", uses="_pass")
            .add(name="c2", uses=uses, image=IMAGE)
            .add(name="c3", uses=uses, image=IMAGE)
            .add(name="h4", uses=uses, image=IMAGE, network="host"))
    with flow:
        plan = flow.plan
        assert plan is not None
        c1, pod1, c2, c3, h4 = (plan.pod(n) for n in ("c1", "pod1", "c2", "c3", "h4"))
        gw_in = next(s.port for s in plan.gateway.inputs if s.mode == "bind")
        # process -> container: the port the container publishes, at the Docker bridge's own
        # address (the kernel forwards it; the loopback would go through docker-proxy)
        assert [a for s in plan.gateway.outputs for a in s.addresses] == [f"{BRIDGE}:{_bound_in(c1)}"]
        assert _dials(pod1) == [f"{BRIDGE}:{_bound_in(c2)}"]
        # container -> process, container -> container, container -> host-network container
        assert _dials(c1) == [f"{DOCKER_HOST}:{_bound_in(pod1)}"]
        assert _dials(c2) == [f"{DOCKER_HOST}:{_bound_in(c3)}"]
        assert _dials(c3) == [f"{DOCKER_HOST}:{_bound_in(h4)}"]
        # host-network container -> process: the loopback it shares with the host
        assert _dials(h4) == [f"127.0.0.1:{gw_in}"]

        boxes = {c.labels["mesh.pod"]: c for c in containers(docker_engine, flow=flow.flow_id)}
        assert sorted(boxes) == ["c1", "c2", "c3", "h4"]
        for name in ("c1", "c2", "c3"):
            cfg = plan.pod(name).entry
            assert boxes[name].attrs["HostConfig"]["NetworkMode"] == "default"
            assert _published(boxes[name]) == {_bound_in(plan.pod(name)), cfg.port_ctrl}
            assert f"{DOCKER_HOST}:host-gateway" in boxes[name].attrs["HostConfig"]["ExtraHosts"]
        assert boxes["h4"].attrs["HostConfig"]["NetworkMode"] == "host" and _published(boxes["h4"]) == set()

        results = flow.index([Document(text="around")])
        assert results is not None and not results[0].failed
        assert [e["pod"] for e in results[0].route] == ["gateway", "c1", "pod1", "c2", "c3", "h4"]
        doc = results[0].docs[0]
        assert doc.text == "around" and doc.tags["pods"] == ["c1", "c2", "c3", "h4"]
        hostnames = [boxes[n].attrs["Config"]["Hostname"] for n in ("c1", "c2", "c3")]
        assert doc.tags["hosts"][:3] == hostnames and len(set(hostnames)) == 3
        assert doc.tags["hosts"][3] == os.uname().nodename  # the host's network, its name too


# -- another machine: a jinad in a network namespace ------------------------------------------

@pytest.fixture(scope="module")
def ns_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Host, JinadNode]]:
    """A jinad in a namespace of its own, reached (and reaching) over a bridge only."""
    from tests.netns import available, cleanup_stale

    ok, why = available()
    if not ok:
        if os.environ.get("MESH_REQUIRE_NETNS") == "1":
            pytest.fail(f"network namespaces required but unavailable: {why}")
        pytest.skip(f"network namespaces unavailable: {why}")
    cleanup_stale()
    net = Net()
    try:
        host = net.add_host("far")
        node = start_jinad(tmp_path_factory.mktemp("far"), name=jinad_name("far"), host="0.0.0.0",
                           advertise=host.ip, port=8000, prefix=host.exec_argv([]))
        try:
            yield host, node
        finally:
            node.stop()
    finally:
        net.close()


def test_container_reaches_a_node_in_another_namespace_both_ways(
        docker_engine: Any, tagger: Path, ns_node: tuple[Host, JinadNode]) -> None:
    """c1 (container here) -> far (process on the namespace's node) -> c2 (container here):
    this machine is never dialled from the namespace, so far binds both its sides and both
    containers dial far's address, through the docker bridge and the host's routing."""
    host, node = ns_node
    uses = str(tagger)
    flow = (Flow().add(name="c1", uses=uses, image=IMAGE)
            .add(name="far", uses="_logforward", host=host.ip, port_expose=node.port)
            .add(name="c2", uses=uses, image=IMAGE))
    with flow:
        plan = flow.plan
        assert plan is not None
        far = plan.pod("far")
        assert far.node.address == host.ip
        far_out = next(s.port for s in far.exit.outputs if s.mode == "bind")
        assert _dials(plan.pod("c1")) == [f"{host.ip}:{_bound_in(far)}"]
        assert [a for s in plan.pod("c2").entry.inputs for a in s.addresses] == [f"{host.ip}:{far_out}"]
        results = flow.index([Document(text=f"far {i}") for i in range(3)], request_size=1)
        assert results is not None and not any(r.failed for r in results)
        assert [e["pod"] for e in results[0].route] == ["gateway", "c1", "far", "c2"]
        assert sorted(d.text for r in results for d in r.docs) == ["far 0", "far 1", "far 2"]
        assert all(d.tags["pods"] == ["c1", "c2"] for r in results for d in r.docs)
