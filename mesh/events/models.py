"""Payloads that travel over the bus, one pydantic model per event.

Each model has a versioned literal ``type`` (``"log.v1"``...). A breaking change gets a
new model with ``.v2``; additive fields keep the version, and unknown fields are ignored
on decode so that older nodes still read newer payloads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from mesh.names import Id, check_name
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = [
    "MAX_LEASE_S",
    "MAX_PORTS",
    "PROTOCOL",
    "PeaData",
    "RestartPolicy",
    "check_pea_config",
    "check_pea_configs",
    "AuditEvent",
    "ErrorBody",
    "ErrorReply",
    "Event",
    "KillReply",
    "CordonRequest",
    "CordonReply",
    "KillRequest",
    "LifecycleEvent",
    "LifecycleKind",
    "LogRecord",
    "LogStream",
    "NodeInfo",
    "PortsReply",
    "PortsRequest",
    "SpawnReply",
    "SpawnRequest",
]

# The mesh's protocol: bumped whenever the bus or the wire between Peas changes so that nodes
# of two versions cannot work together (2: signed commands, the status_code envelope).
PROTOCOL = 4  # 3: a request's Documents travel as columns (mesh/types/columns.py); 4: a
# pod's restart policy has liveness_s (a node of 3 refuses a spawn that carries it)
MAX_PORTS = 1024  # ports a node hands out in one request
MAX_LEASE_S = 86400.0
PodName = Annotated[str, AfterValidator(check_name)]
_CONFIGS: dict[str, TypeAdapter[Any]] = {"pea": TypeAdapter(PeaConfig),
                                         "gateway": TypeAdapter(GatewayConfig)}


def check_pea_config(data: dict[str, Any]) -> dict[str, Any]:
    """A Pea configuration as a planner wrote it (``config_to_dict``): checked, kept as is."""
    kind = data.get("kind", "pea")
    if kind not in _CONFIGS:
        raise ValueError(f"kind must be 'pea' or 'gateway', not {kind!r}")
    _CONFIGS[kind].validate_python({k: v for k, v in data.items() if k != "kind"})
    return data


PeaData = Annotated[dict[str, Any], AfterValidator(check_pea_config)]
_PEA_LIST: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[PeaData])


def check_pea_configs(peas: list[dict[str, Any]]) -> None:
    """The Pea configurations of a spawn: at least one, each a valid config; else a 400
    naming the field (``peas.0.inputs.0.port: ...``)."""
    from mesh.errors import BadRequestError

    if not peas:
        raise BadRequestError("peas: a spawn needs at least one Pea configuration",
                              detail={"field": "peas"})
    try:
        _PEA_LIST.validate_python(peas)
    except ValidationError as exc:
        problems = "; ".join(f"peas.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False)[:5])
        raise BadRequestError(f"invalid Pea configuration: {problems}",
                              detail={"field": "peas"}) from exc
LeaseS = Annotated[float, Field(gt=0, le=MAX_LEASE_S, allow_inf_nan=False,
                                description="seconds, at most a day")]
LifecycleKind = Literal["started", "ready", "exited", "restarted", "failed", "stopped"]
LogStream = Literal["stdout", "stderr", "log"]


class Event(BaseModel):
    """Base of every payload: ignores unknown fields, has a ``type`` literal."""

    model_config = ConfigDict(extra="ignore")


class ErrorBody(BaseModel):
    """The one error envelope, on the bus and over HTTP: ``{error, message, detail, status_code}``
    (``status`` is read too, as nodes of the previous protocol wrote it)."""

    model_config = ConfigDict(populate_by_name=True)

    error: str
    message: str
    detail: dict[str, Any] | None = None
    status_code: int = Field(500, validation_alias=AliasChoices("status_code", "status"))

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorBody:
        """Envelope for an exception; ``MeshError`` subclasses keep their status and detail."""
        name, message = getattr(exc, "error", None), getattr(exc, "message", None)
        status, detail = getattr(exc, "status", 500), getattr(exc, "detail", None)
        return cls(
            error=name if isinstance(name, str) and name else type(exc).__name__,
            message=message if isinstance(message, str) and message else str(exc),
            detail=detail if isinstance(detail, dict) and detail else None,
            status_code=status if isinstance(status, int) else 500,
        )


class ErrorReply(Event):
    """A reply that is only an error (the handler failed before building its reply)."""

    type: Literal["error.v1"] = "error.v1"
    error: ErrorBody


class LogRecord(Event):
    """One log line of one pea, published on ``jinad.logs.<flow>.<pod>.<pea>``."""

    type: Literal["log.v1"] = "log.v1"
    time: float = Field(description="epoch seconds")
    level: str
    node: str
    flow: str
    pod: str
    pea: str
    message: str
    pid: int | None = None
    stream: LogStream = "log"


class NodeInfo(Event):
    """A node's identity and load, kept in the ``jinad_nodes`` KV bucket."""

    type: Literal["node.v1"] = "node.v1"
    name: str
    address: str = Field(description="advertised host other nodes and clients dial")
    port: int = Field(description="HTTP edge port")
    labels: dict[str, str] = Field(default_factory=dict)
    cpu_count: int
    load1: float
    mem_total_mb: int
    mem_available_mb: int
    peas: int = 0
    failed: list[str] = Field(default_factory=list, description="'<flow>/<pod>' of pods one of "
                              "whose Peas exited on its own (being restarted, or failed)")
    failures: dict[str, str] = Field(default_factory=dict, description="'<flow>/<pod>' -> why, of "
                                     "pods whose restart policy is spent (GET /flow: failed)")
    restarts: dict[str, int] = Field(default_factory=dict, description="'<flow>/<pod>' -> how "
                                     "many times the node restarted a Pea of it")
    pods: list[str] = Field(default_factory=list, description="'<flow>/<pod>' of the pods it "
                            "runs (after a restart of its jinad: those it re-created)")
    cordoned: bool = Field(False, description="it takes no new pods (POST /nodes/{name}/cordon); "
                           "what it runs stays")
    down: list[str] = Field(default_factory=list, description="'<flow>/<pod>/<pea>' of the Peas "
                            "that exited on their own (being restarted, or failed)")
    version: str
    started: float = Field(description="epoch seconds")
    heartbeat: float = Field(description="epoch seconds of this record")
    protocol: int = Field(default=1, description="the mesh protocol the node speaks (records "
                          "without it are of protocol 1); placements go only to nodes of the "
                          "placing edge's protocol")
    edge_key: str | None = Field(default=None, description="public nkey this node's edge signs "
                                 "its commands with (trusted by the mesh unless --trusted-keys)")
    instance: str = Field(default="", description="random key of the node's state dir: another "
                          "state dir under a live node's name is refused ('': an older jinad)")


class LifecycleEvent(Event):
    """A pea changed state; published on ``jinad.events.<flow>``."""

    type: Literal["lifecycle.v1"] = "lifecycle.v1"
    flow: str
    pod: str
    pea: str
    node: str
    kind: LifecycleKind
    exit_code: int | None = None
    detail: str | None = None
    time: float


class AuditEvent(Event):
    """A command a node took or refused, and whose key signed it; on ``jinad.audit.<node>``."""

    type: Literal["audit.v1"] = "audit.v1"
    node: str
    subject: str
    key: str | None = Field(description="the signer's public nkey (None: unsigned)")
    accepted: bool
    reason: str | None = None
    time: float


class RestartPolicy(BaseModel):
    """What a node does when a Pea of the pod exits on its own (a crash, SIGKILL, OOM): start
    it again, up to ``attempts`` times, waiting ``delay_s`` before the first restart and
    ``backoff`` times longer before each next one, at most ``max_delay_s``. ``attempts: 0``:
    never; the pod is then ``failed`` at the first exit. With ``liveness_s``, a Pea that
    stops answering its control socket that long while its process lives (hung, stopped) is
    killed and restarted the same way (mesh/agents/liveness.py)."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(5, ge=0, le=1000, description="restarts before the pod is failed")
    delay_s: float = Field(0.5, ge=0, le=3600, allow_inf_nan=False,
                           description="wait before the first restart")
    backoff: float = Field(2.0, ge=1, le=10, allow_inf_nan=False,
                           description="each next wait is this many times longer")
    max_delay_s: float = Field(30.0, ge=0, le=3600, allow_inf_nan=False,
                               description="the longest wait between restarts")
    reset_after_s: float = Field(600.0, ge=0, le=86400, allow_inf_nan=False,
                                 description="a Pea that ran this long before it exited starts "
                                 "the count of attempts and delays afresh (a crash a day never "
                                 "spends the policy)")
    liveness_s: float = Field(0.0, ge=0, le=86400, allow_inf_nan=False,
                              description="a Pea whose control socket has not answered for this "
                              "long while its process lives is killed and restarted (0: never; "
                              "an executor busy with one request that long also stops answering)")

    def delay_before(self, restart: int) -> float:
        """Seconds to wait before restart number ``restart`` (0 for the first)."""
        return float(min(self.delay_s * self.backoff ** restart, self.max_delay_s))


class SpawnRequest(Event):
    """Start the peas of one pod on the node that takes the request."""

    type: Literal["spawn.request.v1"] = "spawn.request.v1"
    flow_id: Id
    pod: PodName
    peas: list[dict[str, Any]] = Field(default_factory=list, description="pea configs "
                                       "(config_to_dict; checked by the node: check_pea_configs)")
    ready_timeout_s: float = Field(60.0, gt=0, le=MAX_LEASE_S, allow_inf_nan=False)
    files: dict[str, str] = Field(default_factory=dict, description="file name -> base64 content")
    files_ref: str | None = Field(default=None, description="key of the flow's uploaded files in "
                                  "the jinad_files object store (too big for one message)")
    lease_s: LeaseS | None = Field(default=None, description="peas die unless renewed within this")
    restart: RestartPolicy = Field(default_factory=RestartPolicy,
                                   description="what the node does when a Pea exits on its own")


class SpawnReply(Event):
    type: Literal["spawn.reply.v1"] = "spawn.reply.v1"
    ok: bool
    node: str | None = None
    address: str | None = None
    peas: list[dict[str, Any]] = Field(default_factory=list, description="per-pea results")
    error: ErrorBody | None = None


class KillRequest(Event):
    """Stop every pea of a flow, or of one pod of it."""

    type: Literal["kill.request.v1"] = "kill.request.v1"
    flow_id: Id
    pod: PodName | None = None
    renew_lease_s: LeaseS | None = Field(default=None, description="renew the lease instead of killing")


class KillReply(Event):
    type: Literal["kill.reply.v1"] = "kill.reply.v1"
    ok: bool
    node: str | None = None
    peas: list[dict[str, Any]] = Field(default_factory=list, description="per-pea results")
    error: ErrorBody | None = None


class CordonRequest(Event):
    """Cordon a node (it takes no new pods; what it runs stays) or uncordon it."""

    type: Literal["cordon.request.v1"] = "cordon.request.v1"
    cordon: bool


class CordonReply(Event):
    type: Literal["cordon.reply.v1"] = "cordon.reply.v1"
    ok: bool
    node: str
    cordoned: bool
    error: ErrorBody | None = None


class PortsRequest(Event):
    """Ask one node for free ports on its own interfaces."""

    type: Literal["ports.request.v1"] = "ports.request.v1"
    count: int = Field(ge=1, le=MAX_PORTS)


class PortsReply(Event):
    type: Literal["ports.reply.v1"] = "ports.reply.v1"
    node: str
    address: str
    ports: list[int] = Field(default_factory=list)
