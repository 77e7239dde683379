"""The edge's side of a Flow: place its pods on nodes, reserve ports there, spawn, record.

Spawns are all-or-nothing: if any pod fails to start, every Pea already started
for the Flow, on any node, is stopped before the error is returned.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mesh.errors import ConflictError, FlowConfigError, NotFoundError, UnavailableError
from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.errors import BusTimeoutError, KeyNotFound, NoRespondersError
from mesh.events.files import FlowFiles
from mesh.events.kv import FlowStore, NodeRegistry
from mesh.events.models import (
    MAX_PORTS,
    CordonReply,
    CordonRequest,
    KillReply,
    KillRequest,
    NodeInfo,
    PortsReply,
    PortsRequest,
    RestartPolicy,
    SpawnReply,
    SpawnRequest,
)
from mesh.events.records import FlowRecord, GatewayRecord, PeaRecord, PodRecord
from mesh.executors.checks import check_builtins
from mesh.flow.addresses import NodeRef, Placement
from mesh.flow.flow import Flow
from mesh.flow.spec import FlowSpec, PodSpec
from mesh.flow.topology import FlowPlan, PodPlan, plan_flow, plan_pod_alone
from mesh.runtime.config import GatewayConfig, PeaConfig, config_from_dict, config_to_dict
from mesh.scheduler.placer import choose_gateway, choose_node, has_head, spread_replicas

__all__ = ["MAX_PORTS", "Deployer"]

logger = logging.getLogger(__name__)
# a Flow YAML larger than this goes to the object store, the record names it (a KV value is
# one NATS message, 1 MB by default, and the record holds the pods too)
INLINE_YAML_BYTES = 256 * 1024
_YAML_FILE = "flow.yml"
# the most ports a node hands out at once: PortsRequest's own bound, so the two never disagree



class Deployer:
    def __init__(self, *, bus: Bus, node: str, nodes: NodeRegistry, flows: FlowStore,
                 spawn_timeout_s: float, files: FlowFiles | None = None,
                 register: Callable[[], Awaitable[None]] | None = None,
                 ready_timeout_s: float = 60.0) -> None:
        self.bus, self.node = bus, node
        self.register = register
        self.nodes, self.flows = nodes, flows
        self.files = files or FlowFiles(bus.jetstream)
        self.spawn_timeout_s = spawn_timeout_s
        self.ready_timeout_s = ready_timeout_s  # for pods and flows that set no timeout_ready_s

    def _ready_s(self, spec: PodSpec | FlowSpec) -> float:
        """The spec's ``timeout_ready_s`` when its YAML or request set it, else this node's."""
        given = "timeout_ready_s" in spec.model_fields_set
        return spec.timeout_ready_s if given else self.ready_timeout_s

    async def _live_and_here(self) -> tuple[list[NodeInfo], NodeInfo]:
        """The live nodes and this one. A record that expired while this node was too busy to
        beat is put back once (``register``) before the node gives up with a 503."""
        for attempt in range(2):
            live = await self.nodes.list()
            here = next((n for n in live if n.name == self.node), None)
            if here is not None:
                return live, here
            if attempt == 0 and self.register is not None:
                await self.register()
        raise UnavailableError(f"this node ({self.node}) is not in the mesh's node list (is the "
                               "broker reachable?); retry")

    # -- create ---------------------------------------------------------------------
    async def create_flow(self, flow: Flow, *, yaml_text: str, files: dict[str, bytes]) -> FlowRecord:
        live, here = await self._live_and_here()
        check_builtins(flow.pods)
        chosen: dict[str, NodeInfo] = {}
        spread: dict[str, list[NodeInfo]] = {}  # the replicas' nodes of pods with a head
        gateway = choose_gateway(live, here=here, pending={})
        pending = {gateway.name: 1}
        for p in flow.pods:
            name = p.name or ""
            node = chosen[name] = choose_node(p, live, here=here, pending=pending)
            pending[node.name] = pending.get(node.name, 0) + (2 if has_head(p) else 1)
            if has_head(p):
                spread[name] = spread_replicas(p, live, home=node, pending=pending)
        refs = {n.name: NodeRef(name=n.name, address=n.address) for n in live}
        pools = await self._reserve(flow, chosen, spread, gateway)
        placement = Placement(gateway=refs[gateway.name], pods={k: refs[v.name] for k, v in chosen.items()},
                              ports=lambda node: pools[node.name].pop(),
                              replicas={k: [refs[n.name] for n in v] for k, v in spread.items()})
        plan = plan_flow(flow.flow_id, flow.spec, flow.pods, placement=placement)
        record = _record(plan, flow, yaml_text=yaml_text, origin=self.node)
        _stamp_lives(record, live)
        await self._stash_yaml(record)
        await self.flows.put(flow.flow_id, record)
        try:
            replies = await self._spawn_all(plan, flow, files)
        except BaseException as exc:
            await self._abort(record, exc)
            raise
        pids = {(r.node, p["name"]): p.get("pid") for r in replies for p in r.peas}
        record.status = "running"
        if record.gateway is not None:
            record.gateway.status = "running"
        for pod in record.pods:
            pod.status = "running"
            for pea in pod.peas:
                pea.pid = pids.get((pea.node or pod.node, pea.name))
        await self.flows.put(flow.flow_id, record)
        return record

    async def _reserve(self, flow: Flow, chosen: dict[str, NodeInfo],
                       spread: dict[str, list[NodeInfo]], here: NodeInfo) -> dict[str, list[int]]:
        """Ports for each node involved, chosen by that node: a pod's own node reserves for
        all its Peas and the sockets it may have to bind; a replica elsewhere its two."""
        need: dict[str, int] = {here.name: 6 + len(flow.pods)}
        for pod in flow.pods:
            node = chosen[pod.name or ""].name
            need[node] = need.get(node, 0) + 2 * (pod.replicas + 2) + 2 * len(flow.pods) + 1
            for other in spread.get(pod.name or "", []):
                if other.name != node:
                    need[other.name] = need.get(other.name, 0) + 2
        requests = {n: _ports_request(n, c) for n, c in need.items()}
        replies = await asyncio.gather(*(
            self.bus.request(subjects.ports(n), req, PortsReply, timeout_s=5, signed=True)
            for n, req in requests.items()))
        return {r.node: list(r.ports) for r in replies}

    async def _spawn_all(self, plan: FlowPlan, flow: Flow, files: dict[str, bytes]) -> list[SpawnReply]:
        files_ref = await self._stash(plan.flow_id, files)
        jobs = [self._spawn(plan.flow_id, "gateway", plan.gateway_node.name, [plan.gateway],
                            self._ready_s(flow.spec), None)]
        jobs += [self._spawn(plan.flow_id, pp.name, node.name, peas, self._ready_s(pp.spec),
                             files_ref, restart=pp.spec.restart)
                 for pp in plan.pods for node, peas in pp.by_node() if peas]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return [r for r in results if isinstance(r, SpawnReply)]

    async def _spawn(self, flow_id: str, pod: str, node: str, peas: list[Any], ready_timeout_s: float,
                     files_ref: str | None, lease_s: float | None = None,
                     restart: RestartPolicy | None = None) -> SpawnReply:
        req = SpawnRequest(flow_id=flow_id, pod=pod, peas=[config_to_dict(p) for p in peas],
                           ready_timeout_s=ready_timeout_s, files_ref=files_ref, lease_s=lease_s,
                           restart=restart or RestartPolicy())
        timeout_s = min(ready_timeout_s + 5, self.spawn_timeout_s)
        try:
            return await self.bus.request(subjects.spawn(node), req, SpawnReply, timeout_s=timeout_s,
                                          signed=True)
        except BusTimeoutError as exc:
            raise BusTimeoutError(f"pod {pod!r} on node {node}: no answer within {timeout_s:g} s "
                                  f"(timeout_ready_s={ready_timeout_s:g})",
                                  detail={"pod": pod, "node": node}) from exc

    async def _abort(self, record: FlowRecord, exc: BaseException) -> None:
        reason = str(getattr(exc, "message", "") or exc) or type(exc).__name__
        logger.warning("flow %s failed to start, stopping what started: %s", record.flow_id, reason)
        try:
            await self.kill(record.flow_id, record.nodes)
        finally:
            await self.flows.delete(record.flow_id)
            await self._drop_files(record.flow_id)

    async def _stash(self, flow_id: str, files: dict[str, bytes]) -> str | None:
        """Uploaded files go to the object store once; spawn requests name them (a NATS
        message could not carry more than the broker's max_payload, 1 MB by default)."""
        if not files:
            return None
        await self.files.put(flow_id, files)
        return flow_id

    async def _stash_yaml(self, record: FlowRecord) -> None:
        """A large YAML moves from the record to the object store; the record names it."""
        data = record.yaml.encode()
        if len(data) <= INLINE_YAML_BYTES:
            return
        record.yaml_ref = _yaml_key(record.flow_id)
        await self.files.put(record.yaml_ref, {_YAML_FILE: data})
        record.yaml = ""

    async def flow_yaml(self, record: FlowRecord) -> str:
        """The Flow's YAML, from the record or the object store."""
        if not record.yaml_ref:
            return record.yaml
        stored = await self.files.get(record.yaml_ref)
        return base64.b64decode(stored.get(_YAML_FILE, "")).decode()

    async def _drop_files(self, flow_id: str) -> None:
        for key in (flow_id, _yaml_key(flow_id)):
            try:
                await self.files.delete(key)
            except Exception as exc:  # noqa: BLE001 - the flow is gone; a stale object only costs space
                logger.warning("uploaded files of %s not removed: %s", flow_id, exc)

    # -- read, delete -------------------------------------------------------------------
    async def get(self, flow_id: str) -> FlowRecord:
        try:
            data = await self.flows.get(flow_id)
        except KeyNotFound as exc:
            raise NotFoundError(f"no flow or pod with id {flow_id!r} in the mesh",
                                detail={"flow_id": flow_id}) from exc
        return _with_status(FlowRecord.model_validate(data), await self.nodes.list())

    async def exists(self, flow_id: str) -> bool:
        try:
            await self.flows.get(flow_id)
        except KeyNotFound:
            return False
        return True

    async def delete(self, flow_id: str) -> FlowRecord:
        record = await self.get(flow_id)
        record.status = "stopping"
        await self.flows.put(flow_id, record)
        await self.kill(flow_id, record.nodes)
        await self.flows.delete(flow_id)
        await self._drop_files(flow_id)
        return record

    async def cordon(self, node: str, cordon: bool) -> CordonReply:
        """Cordon (or uncordon) ``node``: a signed command it answers once its record says so."""
        live = {n.name for n in await self.nodes.list()}
        if node not in live:
            raise NotFoundError(f"no live node {node!r} in the mesh; nodes are "
                                + ", ".join(sorted(live)), detail={"node": node})
        try:
            return await self.bus.request(subjects.cordon(node), CordonRequest(cordon=cordon),
                                          CordonReply, timeout_s=10, signed=True)
        except NoRespondersError as exc:
            raise ConflictError(f"node {node} takes no cordon commands (a jinad older than this "
                                "one?): upgrade it", detail={"node": node}) from exc

    async def kill(self, flow_id: str, nodes: set[str], *, pod: str | None = None,
                   timeout_s: float = 15.0) -> list[KillReply]:
        """Ask every node to stop the flow's Peas; wait for each live node named in ``nodes``."""
        live = {n.name for n in await self.nodes.list()} | {self.node}  # this node: surely alive
        replies, errors = await self.bus.gather(
            subjects.kill(flow_id, pod), KillRequest(flow_id=flow_id, pod=pod), KillReply,
            expect=nodes & live, who=lambda r: r.node, timeout_s=timeout_s, signed=True)
        for err in errors:
            logger.warning("a node failed to stop Peas of %s: %s", flow_id, err)
        return replies

    # -- single pods (``mesh pod --host``, ``Flow.add(host=...)``) -----------------------
    async def node_for(self, host: str | None) -> NodeInfo:
        live, here = await self._live_and_here()
        return choose_node(PodSpec(name="pod", host=host or None), live, here=here)

    async def reserve_ports(self, host: str | None, count: int) -> PortsReply:
        node = await self.node_for(host)
        return await self.bus.request(subjects.ports(node.name), _ports_request(node.name, count),
                                      PortsReply, timeout_s=5, signed=True)

    async def create_pod(self, pod: PodSpec, *, pod_id: str, host: str | None,
                         peas: list[dict[str, Any]] | None, lease_s: float | None,
                         files: dict[str, bytes]) -> FlowRecord:
        """Start one pod on the node ``host`` names: from given Pea configs, or planned here."""
        check_builtins([pod])
        node = await self.node_for(host)
        ref = NodeRef(name=node.name, address=node.address)
        if peas is None:
            pool = (await self.reserve_ports(node.name, 2 * (pod.replicas + 2) + 1)).ports
            plan = plan_pod_alone(pod_id, pod, node=ref, ports=pool.pop)
            configs: list[Any] = plan.peas
        else:
            configs = [config_from_dict(p) for p in peas]
            plan = PodPlan(spec=pod, head=None, replicas=configs, tail=None, node=ref)
        record = FlowRecord(flow_id=pod_id, kind="pod", origin=self.node, created=time.time(),
                            pods=[_pod_record(plan)])
        record.pods[0].node_started = node.started
        await self.flows.create(pod_id, record)  # an id in use is a 409, whoever wins the race
        try:
            reply = await self._spawn(pod_id, pod.name or "pod", node.name, configs,
                                      self._ready_s(pod), await self._stash(pod_id, files),
                                      lease_s=lease_s, restart=pod.restart)
        except BaseException as exc:
            await self._abort(record, exc)
            raise
        pids = {p["name"]: p.get("pid") for p in reply.peas}
        for pea in record.pods[0].peas:
            pea.pid = pids.get(pea.name)
        record.status = record.pods[0].status = "running"
        await self.flows.put(pod_id, record)
        return record

    async def renew(self, flow_id: str, lease_s: float) -> None:
        await self.bus.publish(subjects.kill(flow_id), KillRequest(flow_id=flow_id, renew_lease_s=lease_s),
                               signed=True)

    async def list(self) -> list[FlowRecord]:
        """Every record, each with its status now (the same as :meth:`get` gives it)."""
        records = (await self.flows.list()).values()
        nodes = await self.nodes.list()
        return [_with_status(FlowRecord.model_validate(v), nodes) for v in records]


def _with_status(record: FlowRecord, nodes: list[NodeInfo]) -> FlowRecord:
    """The record with each pod's status as the mesh's node records say it is now (lost,
    restarting, failed with the reason, or as recorded), and the Flow degraded when one is."""
    flow_id = record.flow_id
    live = {n.name: n.started for n in nodes}
    failed = {key for n in nodes for key in n.failed}
    reasons = {key: why for n in nodes for key, why in n.failures.items()}
    restarts: dict[str, int] = {}  # a pod spread over nodes restarts Peas on each
    for n in nodes:
        for key, count in n.restarts.items():
            restarts[key] = restarts.get(key, 0) + count
    runs = {n.name: set(n.pods) for n in nodes}
    down = {key for n in nodes for key in n.down}

    def status(node: str, started: float | None, pod: str, now: str) -> str:
        """Lost: the node left the mesh, or restarted since it spawned the Peas (they died
        with it) and has not re-created them. Failed: a Pea of the pod exited on its own and
        its restart policy is spent. Restarting: one exited and the node is starting it
        again."""
        key = f"{flow_id}/{pod}"
        if node not in live or (started is not None and live[node] != started
                                and key not in runs.get(node, ())):
            return "lost"
        if key in reasons:
            return "failed"
        return "restarting" if key in failed else now

    for pod in record.pods:
        lives = {(pod.node, pod.node_started)} | {(p.node, p.node_started) for p in pod.peas if p.node}
        shown = [status(node, started, pod.name, pod.status) for node, started in sorted(
            lives, key=lambda life: life[0] != pod.node)]  # the pod's own node first
        pod.status = next((s for s in shown if s == "lost"), shown[0])
        pod.restarts = restarts.get(f"{flow_id}/{pod.name}", 0)
        pod.reason = reasons.get(f"{flow_id}/{pod.name}")
        for pea in pod.peas:
            here = status(pea.node or pod.node, pea.node_started or pod.node_started, pod.name,
                          "starting" if pod.status == "starting" else "running")
            if here != "lost" and f"{flow_id}/{pod.name}/{pea.name}" in down:
                here = "failed" if pod.reason else "restarting"
            elif here in ("failed", "restarting"):
                here = "running"  # another Pea of the pod is the one down
            pea.status = here
        pod.running_replicas = sum(1 for p in pod.peas if p.status == "running"
                                   and p.name not in (f"{pod.name}/head", f"{pod.name}/tail"))
    gw = record.gateway
    if gw is not None:
        gw.status = status(gw.node, gw.node_started, "gateway", gw.status)
    statuses = {p.status for p in record.pods} | ({gw.status} if gw else set())
    if statuses & {"lost", "failed", "restarting"} and record.status == "running":
        record.status = "degraded"
    return record


def _ports_request(node: str, count: int) -> PortsRequest:
    if count > MAX_PORTS:
        raise FlowConfigError(f"this needs {count} ports on node {node}, more than the {MAX_PORTS} "
                              "a node hands out at once; use fewer replicas",
                              detail={"node": node, "ports": count})
    return PortsRequest(count=count)


def _yaml_key(flow_id: str) -> str:
    return f"{flow_id}.yaml"


def _record(plan: FlowPlan, flow: Flow, *, yaml_text: str, origin: str) -> FlowRecord:
    gw = plan.gateway
    return FlowRecord(
        flow_id=plan.flow_id, yaml=yaml_text, origin=origin, created=time.time(),
        gateway=GatewayRecord(node=plan.gateway_node.name, host=plan.gateway_node.address,
                              port_expose=gw.port_expose, port_http=gw.port_http, port_ctrl=gw.port_ctrl),
        pods=[_pod_record(pp) for pp in plan.pods])


def _stamp_lives(record: FlowRecord, live: list[NodeInfo]) -> None:
    """Which life of each node runs the Peas (GET tells a restarted node's pods as lost)."""
    started = {n.name: n.started for n in live}
    for pod in record.pods:
        pod.node_started = started.get(pod.node)
        for pea in pod.peas:
            pea.node_started = started.get(pea.node or pod.node)
    if record.gateway is not None:
        record.gateway.node_started = started.get(record.gateway.node)


def _pod_record(pp: PodPlan) -> PodRecord:
    return PodRecord(name=pp.name, node=pp.node.name, address=pp.node.address, uses=pp.spec.uses,
                     replicas=pp.spec.replicas, image=pp.spec.image,
                     peas=[_pea_record(p, pp.node_of(p)) for p in pp.peas])


def _pea_record(cfg: PeaConfig | GatewayConfig, node: NodeRef) -> PeaRecord:
    bound_in = next((s.port for s in cfg.inputs if s.mode == "bind"), None)
    return PeaRecord(name=cfg.name, port_ctrl=cfg.port_ctrl, port_in=bound_in,
                     ports_out=[s.port for s in cfg.outputs if s.mode == "bind" and s.port],
                     node=node.name, address=node.address)
