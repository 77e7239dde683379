"""From Pod specs to Pea configurations: who binds, who dials, on which ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mesh.errors import FlowConfigError
from mesh.flow.addresses import LOCAL, NodeRef, Placement, dial_host
from mesh.flow.spec import GATEWAY, FlowSpec, PodSpec
from mesh.runtime.config import GatewayConfig, PeaConfig, SocketSpec
from mesh.runtime.keys import MeshKeys, new_keys

__all__ = ["FlowPlan", "PodPlan", "check_graph", "plan_flow", "plan_pod_alone"]

PortAllocator = Callable[[], int]
NodePorts = Callable[[NodeRef], int]  # a free port on that node


@dataclass
class PodPlan:
    spec: PodSpec
    head: PeaConfig | None
    replicas: list[PeaConfig]
    tail: PeaConfig | None
    node: NodeRef = LOCAL  # its head and tail, or its one Pea
    replica_nodes: list[NodeRef] = field(default_factory=list)  # per replica; empty: all on node

    @property
    def name(self) -> str:
        assert self.spec.name is not None
        return self.spec.name

    @property
    def entry(self) -> PeaConfig:
        return self.head or self.replicas[0]

    @property
    def exit(self) -> PeaConfig:
        return self.tail or self.replicas[0]

    @property
    def peas(self) -> list[PeaConfig]:
        return [p for p in (self.head, *self.replicas, self.tail) if p is not None]

    def node_of(self, cfg: PeaConfig) -> NodeRef:
        """The node ``cfg`` (a Pea of this pod) runs on."""
        for i, rep in enumerate(self.replicas):
            if rep is cfg and self.replica_nodes:
                return self.replica_nodes[i]
        return self.node

    def by_node(self) -> list[tuple[NodeRef, list[PeaConfig]]]:
        """The pod's Peas grouped by node, the pod's own node first: one spawn each."""
        groups: dict[NodeRef, list[PeaConfig]] = {self.node: []}
        for cfg in self.peas:
            groups.setdefault(self.node_of(cfg), []).append(cfg)
        return list(groups.items())


@dataclass
class FlowPlan:
    flow_id: str
    gateway: GatewayConfig
    pods: list[PodPlan] = field(default_factory=list)
    gateway_node: NodeRef = LOCAL

    def pod(self, name: str) -> PodPlan:
        return next(p for p in self.pods if p.name == name)


def check_graph(pods: list[PodSpec]) -> None:
    """Every ``needs`` names an earlier-known pod, and there is no cycle."""
    names = {p.name for p in pods}
    for pod in pods:
        for need in pod.needs or []:
            if need != GATEWAY and need not in names:
                raise FlowConfigError(
                    f"pod {pod.name!r} needs {need!r}, which is not a pod of this Flow; "
                    f"pods are {', '.join(sorted(n for n in names if n))}",
                    detail={"pod": pod.name})
            if need == pod.name:
                raise FlowConfigError(f"pod {pod.name!r} needs itself", detail={"pod": pod.name})
    needs = {p.name: [n for n in (p.needs or []) if n != GATEWAY] for p in pods}
    state: dict[str | None, int] = {}

    def visit(name: str | None, path: list[str | None]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join(str(n) for n in path[path.index(name):] + [name])
            raise FlowConfigError(f"the pods' needs form a cycle: {cycle}", detail={"pod": name})
        state[name] = 1
        for up in needs.get(name, []):
            visit(up, path + [name])
        state[name] = 2

    for pod in pods:
        visit(pod.name, [])


def plan_flow(flow_id: str, spec: FlowSpec, pods: list[PodSpec], *,
              placement: Placement | None = None) -> FlowPlan:
    """Pea configurations for every pod and the gateway, wired per the placement. The Flow's
    keys are chosen here, once, and every config carries them: the control key, and with
    ``encrypt_data`` the CURVE key pairs of its data sockets."""
    check_graph(pods)
    where = placement or Placement()
    gw_node = where.gateway
    keys = new_keys(encrypt_data=spec.encrypt_data)

    def gw_port() -> int:
        return where.ports(gw_node)

    gw = GatewayConfig(flow_id=flow_id, port_expose=spec.port_expose or gw_port(),
                       port_http=(spec.port_http or gw_port()) if spec.http else None,
                       port_ctrl=gw_port(), log_level=spec.log_level, keys=keys,
                       metrics=spec.metrics)
    plan = FlowPlan(flow_id=flow_id, gateway=gw, gateway_node=gw_node)
    for pod in pods:
        node = where.node_of(pod.name or "")
        pp = _plan_pod(flow_id, spec, pod, where.ports, keys, node=node,
                       replica_nodes=where.replica_nodes(pod.name or "", pod.replicas))
        plan.pods.append(pp)
    gw.pod_controls = {pp.name: [f"{dial_host(gw_node, pp.node_of(cfg), to_container=cfg.in_container)}:"
                                 f"{cfg.port_ctrl}" for cfg in pp.peas] for pp in plan.pods}
    downstream: dict[str, list[PodPlan]] = {}
    for pp in plan.pods:
        ups = pp.spec.needs or [GATEWAY]
        pp.entry.num_parts = len(ups)
        for up in ups:
            downstream.setdefault(up, []).append(pp)
    gw_target = _Target(gw, gw_node)
    ends = [pp for pp in plan.pods if pp.name not in downstream]
    gw.num_parts = len(ends)
    if not ends or not all(where.must_flip(pp.node, gw_node) for pp in ends):
        gw.inputs.append(SocketSpec(mode="bind", port=gw_port()))
    for pp in plan.pods:
        targets = [_Target(r.entry, r.node) for r in downstream.get(pp.name, [])] or [gw_target]
        _wire(pp.exit, pp.node, pp.spec, targets, where)
    _wire(gw, gw_node, None, [_Target(r.entry, r.node) for r in downstream.get(GATEWAY, [])], where)
    return plan


@dataclass
class _Target:
    pea: PeaConfig | GatewayConfig
    node: NodeRef


def _wire(sender: PeaConfig | GatewayConfig, node: NodeRef, spec: PodSpec | None,
          targets: list[_Target], where: Placement) -> None:
    """Connect the sender to each target's bound input, or bind and let the target dial."""
    port_out = spec.port_out if spec else None
    if port_out is not None and len(targets) != 1:
        raise FlowConfigError(
            f"pod {spec.name!r} sets port_out but has {len(targets)} downstream pods; a bound "  # type: ignore[union-attr]
            "output can feed exactly one pod", detail={"pod": spec.name})  # type: ignore[union-attr]
    for target in targets:
        if port_out is None and not where.must_flip(node, target.node):
            bound = next(s for s in target.pea.inputs if s.mode == "bind")
            host = dial_host(node, target.node, from_container=_in_container(sender),
                             to_container=_in_container(target.pea))
            sender.outputs.append(SocketSpec(mode="connect", addresses=[f"{host}:{bound.port}"]))
            continue
        port = port_out or where.ports(node)
        sender.outputs.append(SocketSpec(mode="bind", port=port))
        host = dial_host(target.node, node, from_container=_in_container(target.pea),
                         to_container=_in_container(sender))
        target.pea.inputs.append(SocketSpec(mode="connect", addresses=[f"{host}:{port}"]))


def _in_container(cfg: PeaConfig | GatewayConfig) -> bool:
    return isinstance(cfg, PeaConfig) and cfg.in_container


def _dial(target: PeaConfig, target_node: NodeRef, *, sender: PeaConfig | None = None,
          sender_node: NodeRef) -> SocketSpec:
    """Dial ``target``'s bound input from ``sender_node`` (the loopback on one node, through
    the host from a container, the node's address across nodes)."""
    bound = next(s for s in target.inputs if s.mode == "bind")
    host = dial_host(sender_node, target_node, from_container=sender is not None and sender.in_container,
                     to_container=target.in_container)
    return SocketSpec(mode="connect", addresses=[f"{host}:{bound.port}"])


def _plan_pod(flow_id: str, flow: FlowSpec, pod: PodSpec, ports: NodePorts, keys: MeshKeys, *,
              node: NodeRef = LOCAL, replica_nodes: list[NodeRef] | None = None) -> PodPlan:
    """A pod's Peas: its head and tail on ``node``, each replica on its node of
    ``replica_nodes`` (all on ``node`` by default); the head dials the replicas, they the tail."""
    assert pod.name is not None
    env = {**flow.env, **pod.env}
    rep_nodes = replica_nodes or [node] * pod.replicas

    def pea(name: str, uses: str, role: str, *, on: NodeRef, replica_id: int = -1,
            in_port: int | None = None, ctrl: int | None = None) -> PeaConfig:
        return PeaConfig(name=name, pod=pod.name or "", flow_id=flow_id, role=role, uses=uses,  # type: ignore[arg-type]
                         uses_with=pod.uses_with if role == "pea" else {},
                         inputs=[SocketSpec(mode="bind", port=in_port or ports(on))],
                         port_ctrl=ctrl or ports(on), replica_id=replica_id,
                         log_level=flow.log_level, env=env,
                         image=pod.image if role == "pea" else None, network=pod.network,
                         keys=keys, metrics=flow.metrics)

    if pod.replicas == 1 and not pod.uses_before and not pod.uses_after:
        single = pea(pod.name, pod.uses, "pea", on=node, in_port=pod.port_in, ctrl=pod.port_ctrl)
        return PodPlan(spec=pod, head=None, replicas=[single], tail=None, node=node)
    head = pea(f"{pod.name}/head", pod.uses_before or "_route", "head", on=node,
               in_port=pod.port_in, ctrl=pod.port_ctrl)
    reps = [pea(f"{pod.name}/{i}", pod.uses, "pea", on=rep_nodes[i], replica_id=i)
            for i in range(pod.replicas)]
    tail = pea(f"{pod.name}/tail", pod.uses_after or "_route", "tail", on=node)
    addresses = [_dial(r, n, sender_node=node).addresses[0] for r, n in zip(reps, rep_nodes, strict=True)]
    if pod.polling == "any":
        head.outputs.append(SocketSpec(mode="connect", addresses=addresses))
    else:
        head.outputs.extend(SocketSpec(mode="connect", addresses=[a]) for a in addresses)
        tail.num_parts = pod.replicas
    for r, n in zip(reps, rep_nodes, strict=True):
        r.outputs.append(_dial(tail, node, sender=r, sender_node=n))
    spread = rep_nodes if any(n != node for n in rep_nodes) else []
    return PodPlan(spec=pod, head=head, replicas=reps, tail=tail, node=node, replica_nodes=spread)



def plan_pod_alone(flow_id: str, pod: PodSpec, *, node: NodeRef, ports: PortAllocator,
                   log_level: str = "INFO") -> PodPlan:
    """One pod outside any Flow (``mesh pod``): it binds its input and its output."""
    spec = FlowSpec(log_level=log_level)
    pp = _plan_pod(flow_id, spec, pod, lambda _node: ports(), new_keys(), node=node)
    pp.exit.outputs.append(SocketSpec(mode="bind", port=pod.port_out or ports()))
    return pp
