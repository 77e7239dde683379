"""Choosing a node for each pod: by host (name or address), by labels, or the least loaded."""

from __future__ import annotations

from mesh.errors import FlowConfigError
from mesh.events.models import NodeInfo
from mesh.flow.spec import PodSpec

__all__ = ["choose_node", "LOCAL_NAMES"]

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1"})


def choose_node(pod: PodSpec, nodes: list[NodeInfo], *, here: NodeInfo) -> NodeInfo:
    if pod.host:
        return _by_host(pod, nodes, here)
    candidates = [n for n in nodes if _has_labels(n, pod.labels)]
    if not candidates:
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(pod.labels.items()))
        raise FlowConfigError(
            f"pod {pod.name!r} asks for labels {wanted}, which no live node has; nodes: "
            + "; ".join(f"{n.name} {n.labels or '{}'}" for n in nodes), detail={"pod": pod.name})
    return min(candidates, key=lambda n: (n.peas / max(n.cpu_count, 1), n.load1, n.name))


def _by_host(pod: PodSpec, nodes: list[NodeInfo], here: NodeInfo) -> NodeInfo:
    host = pod.host or ""
    if host in LOCAL_NAMES:
        return here
    for node in nodes:
        if host in (node.name, node.address):
            return node
    raise FlowConfigError(
        f"pod {pod.name!r} names host {host!r}, which is no live node of the mesh; nodes are "
        + ", ".join(f"{n.name} ({n.address})" for n in nodes), detail={"pod": pod.name, "host": host})


def _has_labels(node: NodeInfo, labels: dict[str, str]) -> bool:
    return all(node.labels.get(k) == v for k, v in labels.items())
