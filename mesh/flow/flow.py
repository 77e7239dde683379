"""The Flow: build a pipeline of Pods in Python or YAML, run it, send it Documents."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mesh import __version__
from mesh.client.client import Client
from mesh.errors import FlowConfigError, MeshError
from mesh.executors.loader import check_uses, is_yaml_path
from mesh.flow.addresses import LOCAL, Placement
from mesh.flow.banner import ready_banner
from mesh.flow.remote import RemotePods, is_remote
from mesh.flow.runner import LocalRunner
from mesh.flow.spec import GATEWAY, FlowSpec, PodSpec
from mesh.flow.topology import FlowPlan, check_graph, plan_flow
from mesh.flow.yamlio import read_flow_yaml, write_flow_yaml
from mesh.logs import console_logger
from mesh.net.ports import free_port
from mesh.types.request import Request

__all__ = ["Flow"]


def _validation_message(exc: ValidationError, where: str) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "value"
        msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{loc}: {msg}")
    return f"{where}: " + "; ".join(problems)


def _check_executors(pod: PodSpec) -> None:
    """A wrong ``uses`` is reported before any process starts, naming the pod. Only for a
    pod on this machine: elsewhere the executor's files are where the pod runs. Of a pod
    with ``image=``, the executor YAML only (it is mounted from here; a class the image
    brings is known to the image alone), and its head and tail (processes here)."""
    if pod.host:
        return
    for field, uses in (("uses", pod.uses), ("uses_before", pod.uses_before),
                        ("uses_after", pod.uses_after)):
        if uses is None or (pod.image and field == "uses" and not is_yaml_path(uses)):
            continue
        try:
            check_uses(uses)
        except MeshError as exc:
            raise type(exc)(f"pod {pod.name!r}: {field}: {exc.message}",
                            detail={"pod": pod.name, field: uses}) from exc


def _check_docker(pods: list[PodSpec]) -> None:
    """Pods with ``image=`` on this machine need its Docker engine: say so naming them, before
    anything starts; remove the containers of local Flows that died without closing."""
    if not pods:
        return
    from mesh.errors import UnavailableError
    from mesh.launchers.engine import docker_client, remove_orphans

    try:
        docker_client()
    except UnavailableError as exc:
        which = ", ".join(f"{p.name!r} (image {p.image!r})" for p in pods)
        raise UnavailableError(f"pod{'s' if len(pods) > 1 else ''} {which}: {exc.message}",
                               detail={**exc.detail, "pod": pods[0].name, "image": pods[0].image}) from exc
    remove_orphans()


class Flow:
    """A pipeline of Pods: ``Flow().add(uses='_logforward').add(uses='_logforward')``."""

    def __init__(self, *, token: str | None = None, **kwargs: Any) -> None:
        self.token = token  # for jinad edges of remote pods; never written to YAML
        try:
            self.spec = FlowSpec(**kwargs)
        except ValidationError as exc:
            raise FlowConfigError(_validation_message(exc, "Flow arguments")) from exc
        self.pods: list[PodSpec] = []
        self.flow_id = uuid.uuid4().hex
        self.plan: FlowPlan | None = None
        self._runner: LocalRunner | None = None
        self._remote: RemotePods | None = None
        self._client: Client | None = None
        self.logger = console_logger("Flow", self.spec.log_level)

    # -- building -------------------------------------------------------------
    def add(self, **kwargs: Any) -> Flow:
        """Append a Pod; it needs the previous Pod unless ``needs=`` says otherwise."""
        label = kwargs.get("name") or f"pod{len(self.pods)}"
        try:
            pod = PodSpec(**kwargs)
        except ValidationError as exc:
            raise FlowConfigError(_validation_message(exc, f"pod {label!r}"), detail={"pod": label}) from exc
        return self._append(pod)

    def _append(self, pod: PodSpec) -> Flow:
        if pod.name is None:
            pod.name = f"pod{len(self.pods)}"
        if any(p.name == pod.name for p in self.pods):
            raise FlowConfigError(f"two pods are named {pod.name!r}; pod names must be unique",
                                  detail={"pod": pod.name})
        if pod.needs is None:
            pod.needs = [self.pods[-1].name or GATEWAY] if self.pods else [GATEWAY]
        check_graph([*self.pods, pod])
        self.pods.append(pod)
        return self

    def needs(self, needs: str | list[str], name: str | None = None, uses: str = "_merge",
              **kwargs: Any) -> Flow:
        """Add a Pod that waits for every Pod in ``needs``; by default it merges their parts."""
        return self.add(needs=needs, name=name, uses=uses, **kwargs)

    join = needs

    # -- running --------------------------------------------------------------
    def start(self) -> Flow:
        if self._runner is not None:
            return self
        for pod in self.pods:
            if not is_remote(pod):
                _check_executors(pod)
        _check_docker([p for p in self.pods if p.image and not is_remote(p)])
        self._remote = RemotePods(self.flow_id, [p for p in self.pods if is_remote(p)],
                                  token=self.token, lease_s=self.spec.lease_s, version=__version__,
                                  edge=self.spec.edge)
        try:
            self._start(self._remote)
        except BaseException:
            self._remote.stop()
            self._remote = None
            raise
        self.logger.info("%s", ready_banner(self.plan.gateway))  # type: ignore[union-attr]
        return self

    def _start(self, remote: RemotePods) -> None:
        nodes = remote.reserve() if remote.pods else {}
        placement = Placement(pods=nodes, ports=lambda n: free_port() if n == LOCAL else remote.port(n))
        self.plan = plan_flow(self.flow_id, self.spec, self.pods, placement=placement)
        configs: list[Any] = [self.plan.gateway]
        timeouts = [self.spec.timeout_ready_s]
        for pp in self.plan.pods:
            if pp.node == LOCAL:
                configs.extend(pp.peas)
                timeouts.extend([pp.spec.timeout_ready_s] * len(pp.peas))
        remote.start([pp for pp in self.plan.pods if pp.node != LOCAL])
        self._runner = LocalRunner()
        try:
            self._runner.start_all(configs, timeouts)
        except BaseException:
            self._runner = None
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
            self.logger.info("%s terminated", self.spec.name)
        if self._remote is not None:
            self._remote.stop()
            self._remote = None

    def __enter__(self) -> Flow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> str | None:
        """None while every Pea runs; otherwise what stopped."""
        if self._runner is None:
            return "the Flow is not running; use it inside `with flow:` or call flow.start()"
        dead = self._runner.dead()
        if dead:
            return "; ".join(f"{p.name} exited with code {p.returncode}" for p in dead)
        return None

    @property
    def port_expose(self) -> int:
        if self.plan is None:
            raise MeshError("the Flow has not been started; its gateway port is chosen at start")
        return self.plan.gateway.port_expose

    @property
    def port_http(self) -> int | None:
        return self.plan.gateway.port_http if self.plan else None

    @property
    def client(self) -> Client:
        if self._client is None or self._client.port_expose != self.port_expose:
            self._client = Client(host="127.0.0.1", port_expose=self.port_expose,
                                  request_size=self.spec.request_size, health_check=self.health)
        return self._client

    def post(self, on: str, inputs: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.client.post(on, inputs, **kwargs)

    def index(self, inputs: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.client.index(inputs, **kwargs)

    def search(self, inputs: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.client.search(inputs, **kwargs)

    def index_lines(self, lines: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.client.index_lines(lines, **kwargs)

    def search_lines(self, lines: Any = None, **kwargs: Any) -> list[Request] | None:
        return self.client.search_lines(lines, **kwargs)

    # -- YAML -------------------------------------------------------------------
    @classmethod
    def load_config(cls, source: str | Path) -> Flow:
        spec, pods = read_flow_yaml(source)
        flow = cls(**spec.model_dump(exclude_unset=True))  # unset stays unset: node defaults
        for pod in pods:
            flow._append(pod)
        return flow

    def to_yaml(self) -> str:
        return write_flow_yaml(self.spec, self.pods)

    def save_config(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Flow):
            return NotImplemented
        return self.spec == other.spec and self.pods == other.pods

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "running" if self._runner else "stopped"
        return f"<Flow {self.spec.name} pods={[p.name for p in self.pods]} {state}>"
