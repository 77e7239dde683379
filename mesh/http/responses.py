"""What the edge's routes answer: each JSON body is one of these models, built by the handler
from the model (so the body always fits the schema the OpenAPI document shows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mesh.events.models import NodeInfo
from mesh.events.records import FlowRecord, GatewayRecord, PeaRecord, PodRecord

__all__ = ["AliveBody", "DeletedFlowBody", "DeletedPodBody", "ErrorEnvelope", "FlowBody",
           "FlowsBody", "HealthBody", "LeaseBody", "NodeItem", "NodesBody", "PodBody", "PodsBody",
           "ReadyBody", "ReservedPorts", "flow_body", "pod_body"]

Broker = Literal["connected", "unreachable"]


class ErrorEnvelope(BaseModel):
    """Every error, on HTTP and on the bus alike."""

    error: str = Field(description="the error's type, e.g. BadRequestError")
    message: str = Field(description="what went wrong, naming the field or the rule")
    detail: dict[str, Any] = Field(description="structured detail: the field, pod, node...")
    status_code: int = Field(description="the HTTP status, repeated")


class AliveBody(BaseModel):
    status_code: Literal[200] = 200
    jina_version: str = Field(description="the version, under the name older clients read")
    version: str
    node: str
    address: str = Field(description="the address other nodes and clients dial")
    broker: Broker = Field(description="whether this node reaches the NATS broker now")
    mesh_size: int | None = Field(description="live nodes in the mesh; null while the broker "
                                  "is unreachable")


class HealthBody(BaseModel):
    status_code: Literal[200] = 200
    status: Literal["alive"] = "alive"
    node: str


class ReadyBody(BaseModel):
    status_code: Literal[200] = 200
    ready: Literal[True] = True
    node: str
    broker: Literal["connected"] = "connected"
    registered: Literal[True] = Field(True, description="this node is in the mesh's node list")


class NodeItem(NodeInfo):
    version_mismatch: bool = Field(description="the node runs another version than this one")
    ineligible: str | None = Field(None, description="why this edge places no pod on the node "
                                   "(another mesh protocol, cordoned); null when it may take pods")
    status: Literal["ready", "cordoned"] = Field(description="ready: it takes new pods; "
                                                 "cordoned: it keeps what it runs, nothing new")


class CordonBody(BaseModel):
    status_code: Literal[200] = 200
    node: str
    status: Literal["ready", "cordoned"]


class NodesBody(BaseModel):
    status_code: Literal[200] = 200
    nodes: list[NodeItem]
    count: int


class FlowBody(BaseModel):
    status_code: Literal[200] = 200
    flow_id: str
    status: str = Field(description="started (just now), starting, running, degraded, "
                        "failed or stopping")
    host: str | None = Field(description="the gateway's address")
    port: int | None = Field(description="the gateway's port (ZeroMQ, for Client)")
    port_http: int | None = Field(description="the gateway's HTTP JSON port")
    yaml: str = Field(description="the Flow's YAML; in GET /flows empty for a large one "
                      "(read it with GET /flow/{id}?yaml_only=true)")
    gateway: GatewayRecord | None
    origin: str = Field(description="the node whose edge created it")
    created: float = Field(description="epoch seconds")
    pods: list[PodRecord]


class FlowsBody(BaseModel):
    status_code: Literal[200] = 200
    flows: list[FlowBody]


class DeletedFlowBody(BaseModel):
    status_code: Literal[200] = 200
    flow_id: str
    status: Literal["deleted"] = "deleted"


class PodBody(BaseModel):
    status_code: Literal[200] = 200
    pod_id: str
    status: str = Field(description="started (just now), running, failed or lost")
    node: str
    host: str = Field(description="the node's advertised address")
    peas: list[PeaRecord]


class PodsBody(BaseModel):
    status_code: Literal[200] = 200
    pods: list[PodBody]


class DeletedPodBody(BaseModel):
    status_code: Literal[200] = 200
    pod_id: str
    status: Literal["deleted"] = "deleted"


class LeaseBody(BaseModel):
    status_code: Literal[200] = 200
    pod_id: str
    lease_s: float


class ReservedPorts(BaseModel):
    status_code: Literal[200] = 200
    node: str
    address: str
    ports: list[int]


def flow_body(record: FlowRecord, *, yaml: str | None = None, status: str | None = None) -> FlowBody:
    gw = record.gateway
    return FlowBody(flow_id=record.flow_id, status=status or record.status,
                    host=gw.host if gw else None, port=gw.port_expose if gw else None,
                    port_http=gw.port_http if gw else None,
                    yaml=record.yaml if yaml is None else yaml, gateway=gw, origin=record.origin,
                    created=record.created, pods=record.pods)


def pod_body(record: FlowRecord, *, status: str | None = None) -> PodBody:
    pod = record.pods[0]
    shown = status or ("started" if pod.status == "running" else pod.status)
    return PodBody(pod_id=record.flow_id, status=shown, node=pod.node, host=pod.address,
                   peas=pod.peas)
