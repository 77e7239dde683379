"""Choosing a node for each pod: by host (name or address), by labels, or the least loaded."""

from __future__ import annotations

from mesh.errors import ConflictError, FlowConfigError
from mesh.events.models import PROTOCOL, NodeInfo
from mesh.flow.spec import PodSpec
from mesh.net.hosts import is_this_machine

__all__ = ["choose_node", "ineligible", "pea_count"]


def choose_node(pod: PodSpec, nodes: list[NodeInfo], *, here: NodeInfo,
                pending: dict[str, int] | None = None) -> NodeInfo:
    """The node for ``pod``; ``pending`` counts Peas placed on nodes but not yet in their
    heartbeats (the other pods of the same Flow), so that a Flow's pods spread out."""
    if pod.host:
        return _by_host(pod, nodes, here)
    labelled = [n for n in nodes if _has_labels(n, pod.labels)]
    candidates = [n for n in labelled if n.protocol == PROTOCOL]
    if labelled and not candidates:
        raise ConflictError(
            f"pod {pod.name!r} could only go to nodes of another mesh protocol: "
            + "; ".join(f"{n.name} {ineligible(n)}" for n in labelled),
            detail={"pod": pod.name, "nodes": [n.name for n in labelled]})
    if not candidates:
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(pod.labels.items()))
        raise ConflictError(  # the Flow is fine; the mesh cannot hold it now (409)
            f"pod {pod.name!r} asks for labels {wanted}, which no live node has; nodes: "
            + "; ".join(f"{n.name} {n.labels or '{}'}" for n in nodes),
            detail={"pod": pod.name, "constraint": {"labels": pod.labels}})
    extra = pending or {}
    # the fewest Peas per core; on a tie the node that took the Flow (the gateway runs there:
    # one hop less), then the lower load, then the name: never the moment's load alone
    return min(candidates, key=lambda n: ((n.peas + extra.get(n.name, 0)) / max(n.cpu_count, 1),
                                          n.name != here.name, n.load1, n.name))


def pea_count(pod: PodSpec) -> int:
    """How many Peas a pod runs: its replicas, and a head and a tail when it has them."""
    return pod.replicas + (2 if pod.replicas > 1 or pod.uses_before or pod.uses_after else 0)


def _by_host(pod: PodSpec, nodes: list[NodeInfo], here: NodeInfo) -> NodeInfo:
    host = pod.host or ""
    if is_this_machine(host):
        return here
    for node in nodes:
        if host in (node.name, node.address):
            why = ineligible(node)
            if why:
                raise ConflictError(f"pod {pod.name!r} names node {node.name}, which {why}",
                                    detail={"pod": pod.name, "host": host,
                                            "protocol": node.protocol})
            return node
    raise FlowConfigError(
        f"pod {pod.name!r} names host {host!r}, which is no live node of the mesh; nodes are "
        + ", ".join(f"{n.name} ({n.address})" for n in nodes), detail={"pod": pod.name, "host": host})


def ineligible(node: NodeInfo) -> str | None:
    """Why no pod is placed on ``node`` by this edge (None: it may take pods)."""
    if node.protocol != PROTOCOL:
        return (f"speaks mesh protocol {node.protocol} and this edge {PROTOCOL}: upgrade it "
                "(README: upgrading a mesh) before it takes pods of this edge")
    return None


def _has_labels(node: NodeInfo, labels: dict[str, str]) -> bool:
    return all(node.labels.get(k) == v for k, v in labels.items())
