"""Choosing nodes for a pod: by host (name or address), by its placement (labels, allowed
nodes), the least loaded; its replicas spread over the nodes that fit."""

from __future__ import annotations

from mesh.errors import ConflictError, FlowConfigError
from mesh.events.models import PROTOCOL, NodeInfo
from mesh.flow.spec import PodSpec
from mesh.net.hosts import is_this_machine

__all__ = ["choose_gateway", "choose_node", "has_head", "ineligible", "spread_replicas"]


def choose_node(pod: PodSpec, nodes: list[NodeInfo], *, here: NodeInfo,
                pending: dict[str, int] | None = None) -> NodeInfo:
    """The node for ``pod`` (its head and tail, or its one Pea); ``pending`` counts Peas
    placed on nodes but not yet in their heartbeats (the other pods of the same Flow), so
    that a Flow's pods spread out."""
    if pod.host:
        return _by_host(pod, nodes, here)
    extra = pending or {}
    # the fewest Peas per core; on a tie the node that took the Flow (the gateway runs there:
    # one hop less), then the lower load, then the name: never the moment's load alone
    return min(_fitting(pod, nodes), key=lambda n: (_load(n, extra), n.name != here.name,
                                                    n.load1, n.name))


def choose_gateway(nodes: list[NodeInfo], *, here: NodeInfo, pending: dict[str, int]) -> NodeInfo:
    """The node of a Flow's gateway: the one that took the Flow, unless it is cordoned (then
    the least loaded other); a ConflictError when every node is."""
    if not here.cordoned:
        return here
    open_nodes = [n for n in nodes if not n.cordoned and n.protocol == PROTOCOL]
    if not open_nodes:
        raise ConflictError("every live node is cordoned, so nothing can be placed: "
                            "POST /nodes/{name}/uncordon one", detail={"constraint": {"cordoned": True}})
    return min(open_nodes, key=lambda n: (_load(n, pending), n.load1, n.name))


def spread_replicas(pod: PodSpec, nodes: list[NodeInfo], *, home: NodeInfo,
                    pending: dict[str, int]) -> list[NodeInfo]:
    """The node of each replica of a pod with a head (``home`` holds the head and tail):
    one per node before two on any, the least loaded first, at most ``max_per_node`` on one;
    all on ``home`` with ``host:`` or ``spread: false``. ``pending`` is updated."""
    rule = pod.placement
    if pod.host or not rule.spread:
        if rule.max_per_node is not None and pod.replicas > rule.max_per_node:
            raise ConflictError(
                f"pod {pod.name!r} keeps its {pod.replicas} replicas on one node "
                f"({'host: ' + pod.host if pod.host else 'spread: false'}) but allows "
                f"{rule.max_per_node} per node (max_per_node)",
                detail={"pod": pod.name, "constraint": {"max_per_node": rule.max_per_node}})
        pending[home.name] = pending.get(home.name, 0) + pod.replicas
        return [home] * pod.replicas
    fitting = _fitting(pod, nodes)
    cap = rule.max_per_node
    if cap is not None and cap * len(fitting) < pod.replicas:
        raise ConflictError(
            f"pod {pod.name!r} needs {pod.replicas} replicas at most {cap} per node, and only "
            f"{len(fitting)} node(s) fit it: " + ", ".join(n.name for n in fitting),
            detail={"pod": pod.name, "constraint": {"max_per_node": cap,
                                                    "nodes": [n.name for n in fitting]}})
    count: dict[str, int] = {}
    chosen = []
    for _ in range(pod.replicas):
        best = min((n for n in fitting if cap is None or count.get(n.name, 0) < cap),
                   key=lambda n: (count.get(n.name, 0), _load(n, pending), n.name != home.name,
                                  n.load1, n.name))
        count[best.name] = count.get(best.name, 0) + 1
        pending[best.name] = pending.get(best.name, 0) + 1
        chosen.append(best)
    return chosen


def has_head(pod: PodSpec) -> bool:
    """A pod runs a head and a tail around its replicas (else it is one Pea)."""
    return pod.replicas > 1 or bool(pod.uses_before or pod.uses_after)


def _load(node: NodeInfo, pending: dict[str, int]) -> float:
    return (node.peas + pending.get(node.name, 0)) / max(node.cpu_count, 1)


def _fitting(pod: PodSpec, nodes: list[NodeInfo]) -> list[NodeInfo]:
    """The nodes ``pod``'s placement allows and this edge may use; a ConflictError (409)
    naming the constraint when there is none."""
    rule, labels = pod.placement, pod.wanted_labels
    allowed = [n for n in nodes if rule.nodes is None or n.name in rule.nodes]
    if not allowed:
        raise ConflictError(
            f"pod {pod.name!r} may only run on {', '.join(rule.nodes or [])}, none of which is a "
            "live node; nodes: " + ", ".join(n.name for n in nodes),
            detail={"pod": pod.name, "constraint": {"nodes": rule.nodes}})
    labelled = [n for n in allowed if all(n.labels.get(k) == v for k, v in labels.items())]
    if not labelled:
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        raise ConflictError(  # the Flow is fine; the mesh cannot hold it now (409)
            f"pod {pod.name!r} asks for labels {wanted}, which no live node"
            + (" it may use" if rule.nodes is not None else "") + " has; nodes: "
            + "; ".join(f"{n.name} {n.labels or '{}'}" for n in allowed),
            detail={"pod": pod.name, "constraint": {"labels": labels}})
    fitting = [n for n in labelled if n.protocol == PROTOCOL and not n.cordoned]
    if not fitting:
        raise ConflictError(
            f"pod {pod.name!r} could only go to nodes that take no pods of this edge (another "
            "mesh protocol, or cordoned): "
            + "; ".join(f"{n.name} {ineligible(n)}" for n in labelled),
            detail={"pod": pod.name, "nodes": [n.name for n in labelled],
                    "constraint": {"cordoned": [n.name for n in labelled if n.cordoned]}})
    return fitting


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
    if node.cordoned:
        return f"is cordoned: it takes no new pods (POST /nodes/{node.name}/uncordon)"
    return None
