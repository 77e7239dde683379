"""Where each Pod runs, and the address one Pea dials to reach another.

This is the BIND/CONNECT table of JEP 2, computed in one place: a Pea dials a
Pea on its own node at the loopback, and one on another node at that node's
advertised address. A node that others cannot dial (the user's machine behind
NAT, where a local Flow runs) is never dialled: a Pea that must send to it
binds its output and the unreachable side dials out instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesh.net.ports import free_port

__all__ = ["CONTAINER_HOST", "DOCKER_BRIDGE", "LOCAL", "NodeRef", "Placement", "dial_host"]


@dataclass(frozen=True)
class NodeRef:
    """A machine Peas run on: its mesh name, its advertised address, whether others can dial it."""

    name: str
    address: str
    reachable: bool = True


LOCAL = NodeRef(name="local", address="127.0.0.1", reachable=False)


CONTAINER_HOST = "host.docker.internal"


DOCKER_BRIDGE = "docker-bridge"  # resolved by the dialling Pea: its docker0 address


def dial_host(sender: NodeRef, receiver: NodeRef, *, from_container: bool = False,
              to_container: bool = False) -> str:
    """The host ``sender`` uses to reach a socket bound on ``receiver``.

    On one node: the loopback, or ``host.docker.internal`` from inside a container (a
    container's own ports are published on its node, so the bound side's kind does not
    matter). Across nodes: the receiving node's advertised address.
    """
    if sender != receiver:
        return receiver.address
    if from_container:
        return CONTAINER_HOST
    # a host process reaches a container's published port through the Docker bridge's own
    # address: the kernel forwards it, where the loopback would go through docker-proxy
    return DOCKER_BRIDGE if to_container else "127.0.0.1"


@dataclass
class Placement:
    """Which node each pod and the gateway run on, and how ports are chosen there."""

    gateway: NodeRef = LOCAL
    pods: dict[str, NodeRef] | None = None
    ports: Callable[[NodeRef], int] = lambda _node: free_port()
    replicas: dict[str, list[NodeRef]] | None = None  # a pod's replicas, when not on its node

    def node_of(self, pod: str) -> NodeRef:
        return (self.pods or {}).get(pod, self.gateway)

    def replica_nodes(self, pod: str, count: int) -> list[NodeRef]:
        """The node of each of the ``count`` replicas of ``pod`` (its own node by default)."""
        nodes = (self.replicas or {}).get(pod)
        if nodes is None:
            return [self.node_of(pod)] * count
        assert len(nodes) == count, (pod, nodes, count)
        return nodes

    def must_flip(self, sender: NodeRef, receiver: NodeRef) -> bool:
        """True when ``receiver`` cannot be dialled by ``sender``, so the sender must bind."""
        return sender != receiver and not receiver.reachable
