"""The address table of JEP 2 as one function: who dials which host for a bound socket."""

from __future__ import annotations

import pytest

from mesh.flow.addresses import CONTAINER_HOST, DOCKER_BRIDGE, LOCAL, NodeRef, Placement, dial_host
from mesh.net.interfaces import ipv4_of
from mesh.runtime.sockets import _resolve

pytestmark = pytest.mark.unit

B = NodeRef(name="b", address="10.0.0.2")
C = NodeRef(name="c", address="10.0.0.3")


@pytest.mark.parametrize(("sender", "receiver", "from_box", "to_box", "host"), [
    (B, B, False, False, "127.0.0.1"),        # process -> process, one node
    (B, B, True, False, CONTAINER_HOST),      # container -> process on its host
    (B, B, True, True, CONTAINER_HOST),       # container -> container, through the host
    (B, B, False, True, DOCKER_BRIDGE),       # process -> container's published port
    (B, C, False, False, "10.0.0.3"),         # another node: its advertised address
    (B, C, True, True, "10.0.0.3"),
])
def test_dial_host_cells(sender: NodeRef, receiver: NodeRef, from_box: bool, to_box: bool,
                         host: str) -> None:
    assert dial_host(sender, receiver, from_container=from_box, to_container=to_box) == host


def test_an_unreachable_node_is_never_dialled() -> None:
    where = Placement(gateway=LOCAL)
    assert where.must_flip(B, LOCAL) and not where.must_flip(LOCAL, B) and not where.must_flip(B, C)


def test_the_bridge_placeholder_becomes_docker0_or_the_loopback() -> None:
    assert _resolve("10.0.0.3:5555") == "10.0.0.3:5555"
    assert _resolve(f"{DOCKER_BRIDGE}:5555") == f"{ipv4_of('docker0') or '127.0.0.1'}:5555"
    assert ipv4_of("no-such-interface0") is None
