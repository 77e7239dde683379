"""A Flow planned for a deployment outside the mesh: one :class:`Unit` per service.

The Flow is planned as the mesh plans it (``mesh/flow/topology.py``), with ports chosen
here, fixed, from :data:`FIRST_PORT` up (the pods' own ``port_*`` kept); then every address
a Pea dials is rewritten to the DNS name of the service that binds that port (Compose's
network, or a Kubernetes Service). A replicated pod polled ``any`` becomes one service of
N replicas: its head binds its output and the replicas dial it (a DNS name that stands for
several containers cannot be dialled once per replica). ``polling: all`` keeps a service
per replica, since the head must reach each one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mesh.errors import FlowConfigError
from mesh.executors.loader import is_yaml_path
from mesh.export.files import MOUNT, FlowFiles, collect_files
from mesh.flow.addresses import NodeRef, Placement
from mesh.flow.spec import GATEWAY, FlowSpec, PodSpec
from mesh.flow.topology import PodPlan, plan_flow
from mesh.runtime.config import GatewayConfig, PeaConfig, SocketSpec
from mesh.runtime.keys import KEYS_ENV

__all__ = ["DEFAULT_IMAGE", "FIRST_PORT", "FORMATS", "ExportPlan", "Unit", "plan_export"]

DEFAULT_IMAGE = "jinad-mesh:latest"
FORMATS = ("compose", "kubernetes")
FIRST_PORT = 50001


@dataclass
class Unit:
    """One service: a Pea (or the gateway), ``replicas`` identical containers of it."""

    name: str  # a DNS label: the service's name and the host others dial
    kind: str  # "pea" | "gateway"
    config: PeaConfig | GatewayConfig
    image: str
    replicas: int = 1
    pod: PodSpec | None = None
    uses_files: bool = False

    @property
    def ports(self) -> list[int]:
        cfg = self.config
        bound = [s.port for s in (*cfg.inputs, *cfg.outputs) if s.mode == "bind" and s.port]
        extra = [cfg.port_expose, cfg.port_http] if isinstance(cfg, GatewayConfig) else []
        return sorted({*bound, *(p for p in extra if p), cfg.port_ctrl})

    @property
    def command(self) -> list[str]:
        """The container's command: the config without its keys."""
        return ["python", "-m", "mesh.runtime.entry", self.kind, self.config.to_json()]

    @property
    def env(self) -> dict[str, str]:
        """The environment, without the keys (they go in the environment on their own)."""
        return {k: v for k, v in self.config.env.items() if k != KEYS_ENV}

    @property
    def keys_env(self) -> str:
        return self.config.env.get(KEYS_ENV, "")


@dataclass
class ExportPlan:
    flow_id: str
    name: str
    units: list[Unit] = field(default_factory=list)
    files: FlowFiles = field(default_factory=lambda: FlowFiles(root=None))

    @property
    def gateway(self) -> Unit:
        return next(u for u in self.units if u.kind == "gateway")

    @property
    def keys_env(self) -> str:
        return self.gateway.keys_env


def plan_export(spec: FlowSpec, pods: list[PodSpec], *, flow_dir: Path | None,
                image: str = DEFAULT_IMAGE, flow_id: str | None = None) -> ExportPlan:
    """The services of the Flow; refuses what cannot run outside the mesh."""
    _check_exportable(pods)
    pods = _with_needs(pods)
    files = collect_files(pods, flow_dir)
    plan = plan_flow(flow_id or uuid.uuid4().hex, spec, pods,
                     placement=Placement(ports=_allocator(spec, pods)))
    out = ExportPlan(flow_id=plan.flow_id, name=spec.name, files=files)
    out.units.append(Unit(name="gateway", kind="gateway", config=plan.gateway, image=image))
    for pp in plan.pods:
        out.units.extend(_pod_units(pp, image, files))
    _rename_addresses(out.units)
    return out


def _check_exportable(pods: list[PodSpec]) -> None:
    for pod in pods:
        if pod.host is not None:
            raise FlowConfigError(
                f"pod {pod.name!r} has host: {pod.host!r}; an exported Flow runs all its pods "
                "in the exported stack, so export refuses remote pods: remove host: to run it "
                "there too", detail={"pod": pod.name})


def _with_needs(pods: list[PodSpec]) -> list[PodSpec]:
    """Names and needs filled in as ``Flow.add`` fills them: each pod after the one before."""
    out: list[PodSpec] = []
    for i, pod in enumerate(pods):
        previous = out[-1].name if out else GATEWAY
        out.append(pod.model_copy(update={"name": pod.name or f"pod{i}",
                                          "needs": pod.needs if pod.needs is not None else [previous]}))
    return out


def _allocator(spec: FlowSpec, pods: list[PodSpec]) -> Callable[[NodeRef], int]:
    taken = {spec.port_expose, spec.port_http}
    taken |= {p for pod in pods for p in (pod.port_in, pod.port_out, pod.port_ctrl)}
    state = {"next": FIRST_PORT}

    def next_port(_node: NodeRef) -> int:
        while state["next"] in taken:
            state["next"] += 1
        state["next"] += 1
        return state["next"] - 1

    return next_port


def service_name(pea: str) -> str:
    """``pod/head`` → ``pod-head``: a DNS label (lower case letters, digits and ``-``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", pea.lower()).strip("-")
    return name[:63].rstrip("-") or "pea"


def _pod_units(pp: PodPlan, image: str, files: FlowFiles) -> list[Unit]:
    pod_image = pp.spec.image or image
    for cfg in pp.peas:
        _inside(cfg, files)
    if pp.head is None or pp.tail is None:
        return [_unit(pp.replicas[0], pod_image, pp.spec)]
    head_img = image if pp.spec.image else pod_image
    units = [_unit(pp.head, head_img, pp.spec)]
    if pp.spec.polling == "any":
        units.append(_collapse(pp, pod_image))
    else:
        units.extend(_unit(r, pod_image, pp.spec) for r in pp.replicas)
    units.append(_unit(pp.tail, head_img, pp.spec))
    return units


def _collapse(pp: PodPlan, image: str) -> Unit:
    """The replicas as one service: the head binds a port of its own, they dial it."""
    assert pp.head is not None
    first = pp.replicas[0]
    port = first.inputs[0].port
    pp.head.outputs = [SocketSpec(mode="bind", port=port)]
    name = service_name(f"{pp.name}/replicas")
    first.inputs = [SocketSpec(mode="connect", addresses=[f"{service_name(pp.head.name)}:{port}"])]
    first.name, first.replica_id = f"{pp.name}/replicas", -1
    unit = _unit(first, image, pp.spec)
    unit.name, unit.replicas = name, len(pp.replicas)
    return unit


def _unit(cfg: PeaConfig, image: str, pod: PodSpec) -> Unit:
    return Unit(name=service_name(cfg.name), kind="pea", config=cfg, image=image, pod=pod,
                uses_files=cfg.base_dir == MOUNT)


def _inside(cfg: PeaConfig, files: FlowFiles) -> None:
    """The config as the container runs it: the Pea is the container, files under MOUNT."""
    if is_yaml_path(cfg.uses):
        cfg.uses, cfg.base_dir = files.inside(cfg.uses), MOUNT
    cfg.image, cfg.network = None, "bridge"


def _rename_addresses(units: list[Unit]) -> None:
    """Each ``host:port`` a Pea dials becomes ``<service that binds port>:port``."""
    owner: dict[int, str] = {}
    for unit in units:
        for s in (*unit.config.inputs, *unit.config.outputs):
            if s.mode == "bind" and s.port is not None:
                if s.port in owner and owner[s.port] != unit.name:
                    raise FlowConfigError(
                        f"port {s.port} is bound by both {owner[s.port]!r} and {unit.name!r}; "
                        "give the pods different port_in/port_out")
                owner[s.port] = unit.name
    names = [u.name for u in units]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice:
        raise FlowConfigError(f"two Peas would share the service name {twice!r}; rename a pod")
    for unit in units:
        for s in (*unit.config.inputs, *unit.config.outputs):
            if s.mode == "connect":
                s.addresses = [_renamed(a, owner) for a in s.addresses]
    # the gateway's GET /health asks each Pea's control socket: at its service's name (a
    # service of several replicas answers for all of them, so their other ports go)
    ctrl = {u.config.port_ctrl: u.name for u in units}
    for unit in units:
        if isinstance(unit.config, GatewayConfig):
            unit.config.pod_controls = {
                pod: [_renamed(a, ctrl) for a in addresses if int(a.rpartition(":")[2]) in ctrl]
                for pod, addresses in unit.config.pod_controls.items()}


def _renamed(address: str, owner: dict[int, str]) -> str:
    host, _, port = address.rpartition(":")
    return f"{owner.get(int(port), host)}:{port}"
