"""The arguments of a Flow and of each Pod: one model for the API and for YAML."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from mesh import names
from mesh.events.models import RestartPolicy

__all__ = ["GATEWAY", "FlowDocument", "FlowSpec", "PodPlacement", "PodSpec", "check_name"]

GATEWAY = "gateway"
Port = int
MAX_READY_S = 86400.0


def _env_names(env: dict[str, str]) -> dict[str, str]:
    """Names a process environment can hold: not empty, no '=' and no NUL (in values neither)."""
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"environment variable {key!r}: a name may not be empty or hold '=' "
                             "or NUL, a value may not hold NUL")
    return env


Env = Annotated[dict[str, str], AfterValidator(_env_names)]


def check_name(name: str) -> str:
    names.check_name(name)
    if name == GATEWAY:
        raise ValueError("'gateway' is reserved for the Flow's gateway")
    return name


def _port(value: int | None) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise ValueError(f"port {value} is out of range 1-65535")
    return value


class PodPlacement(BaseModel):
    """Where a pod's Peas may run on a jinad mesh (``placement:``). Its head and tail (and a
    single Pea) go to one node, the least loaded that fits; its replicas spread over the
    nodes that fit, one per node before two on any, the least loaded first."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(default_factory=dict, description="only nodes with these "
                                   "labels (the pod's own labels: count too)")
    spread: bool = Field(True, description="spread the replicas over nodes; false: keep them "
                         "with the head and tail")
    max_per_node: int | None = Field(None, ge=1, description="at most this many replicas on "
                                     "one node")
    nodes: list[str] | None = Field(None, min_length=1, description="only these nodes (names)")


class PodSpec(BaseModel):
    """One Pod of a Flow, as ``Flow.add(...)`` and a Flow YAML's ``pods:`` give it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(None, description="unique within the Flow; pod0, pod1... when unset")
    uses: str = Field("_pass", description="built-in (_pass, _logforward, _merge...), "
                      "executor YAML path, or 'package.module:Class'")
    uses_with: dict[str, Any] = Field(default_factory=dict, description="executor constructor arguments")
    uses_before: str | None = Field(None, description="executor of the head of a replicated pod")
    uses_after: str | None = Field(None, description="executor of the tail of a replicated pod")
    needs: list[str] | None = Field(None, description="upstream pods; the previous pod when unset")
    method: Literal["add", "needs"] | None = Field(None, description="YAML only: how the pod was added")
    replicas: int = Field(1, ge=1, validation_alias=AliasChoices("replicas", "parallel"),
                          description="number of Peas (processes or containers)")
    polling: Literal["any", "all"] = Field("any", description="any: one replica per request; all: every replica")
    port_in: int | None = Field(None, description="port the pod receives on (bound)")
    port_out: int | None = Field(None, description="bind the pod's output on this port instead of dialling")
    port_ctrl: int | None = Field(None, description="control port of the pod's (first) Pea")
    port_expose: int | None = Field(None, description="with host: the port of that node's jinad edge")
    host: str | None = Field(None, description="node address or name to run on (jinad mesh)")
    image: str | None = Field(None, description="run each replica in a container of this image")
    network: Literal["bridge", "host"] = Field(
        "bridge", description="with image: a container network of its own with ports published "
        "(bridge), or the host's network (host)")
    labels: dict[str, str] = Field(default_factory=dict, description="place on a node with these "
                                   "labels (the same as placement: labels:)")
    placement: PodPlacement = Field(default_factory=PodPlacement, description="on a jinad mesh: "
                                    "where the pod's Peas may run (labels, spread, max_per_node, "
                                    "nodes); host: pins every Pea instead")
    env: Env = Field(default_factory=dict, description="environment of the pod's Peas")
    timeout_ready_s: float = Field(30.0, gt=0, le=MAX_READY_S, allow_inf_nan=False,
                                   validation_alias=AliasChoices("timeout_ready_s", "timeout_ready"),
                                   description="how long each Pea may take to be ready")
    restart: RestartPolicy = Field(default_factory=RestartPolicy, description="on a jinad node: "
                                   "restart a Pea that exits on its own (attempts, delay_s, "
                                   "backoff, max_delay_s) or stops answering (liveness_s); "
                                   "attempts: 0 turns it off")

    _check_ports = field_validator("port_in", "port_out", "port_ctrl", "port_expose")(_port)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @model_validator(mode="after")
    def _one_label_each(self) -> PodSpec:
        clash = sorted(k for k, v in self.placement.labels.items() if self.labels.get(k, v) != v)
        if clash:
            raise ValueError(f"labels: and placement: labels: disagree on {', '.join(clash)}")
        return self

    @property
    def wanted_labels(self) -> dict[str, str]:
        """The labels a node must have: ``labels:`` and ``placement: labels:``."""
        return {**self.labels, **self.placement.labels}

    @field_validator("needs", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class FlowSpec(BaseModel):
    """A Flow's own arguments (``Flow(...)``, YAML ``with:``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("flow", description="shown in logs")
    port_expose: int | None = Field(None, description="the gateway's ZeroMQ port for Clients")
    port_http: int | None = Field(None, description="the gateway's HTTP JSON port")
    http: bool = Field(True, description="serve HTTP JSON on the gateway too")
    request_size: int = Field(100, ge=1, description="Documents per request when a list is sent")
    timeout_ready_s: float = Field(30.0, gt=0, le=MAX_READY_S, allow_inf_nan=False,
                                   description="default Pea ready deadline")
    log_level: str = Field("INFO", description="DEBUG shows per-message counts")
    env: Env = Field(default_factory=dict, description="environment of every Pea")
    lease_s: float = Field(15.0, gt=0, description="remote pods are removed this long after this "
                           "process stops renewing them (it died without closing the Flow)")
    edge: str | None = Field(None, description="host[:port] of a jinad edge this process can reach; "
                             "pods whose host is a node name are placed through it")
    encrypt_data: bool = Field(False, description="encrypt and authenticate the data sockets "
                               "between the Flow's Peas and its gateway (ZeroMQ CURVE, keys "
                               "made per Flow)")
    metrics: bool = Field(True, description="the Peas count requests, failures, latency, bytes "
                          "and Documents by endpoint, for their node's /metrics")

    _check_ports = field_validator("port_expose", "port_http")(_port)


class FlowDocument(BaseModel):
    """The schema of a Flow YAML file (after its ``!Flow`` tag)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: str | int = "1"
    with_: FlowSpec = Field(default_factory=FlowSpec, alias="with")
    env: dict[str, str] = Field(default_factory=dict)
    pods: list[PodSpec] = Field(default_factory=list)
