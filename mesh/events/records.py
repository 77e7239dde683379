"""What the mesh remembers about a Flow, in the ``jinad_flows`` KV bucket.

Any node answers for any Flow from this record; no node is special.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["FlowRecord", "FlowStatus", "GatewayRecord", "PeaRecord", "PodRecord"]

FlowStatus = Literal["starting", "running", "degraded", "failed", "stopping"]


class PeaRecord(BaseModel):
    name: str
    pid: int | None = None
    port_ctrl: int
    port_in: int | None = None
    ports_out: list[int] = Field(default_factory=list)
    node: str | None = Field(None, description="the node it runs on (None: its pod's node)")
    address: str | None = Field(None, description="that node's advertised address")
    node_started: float | None = Field(None, description="as PodRecord.node_started, for its node")
    status: str | None = Field(None, description="GET /flow: running (or starting), restarting "
                               "(it exited; its node starts it again), failed (its pod's restart "
                               "policy is spent), lost (its node left the mesh or restarted)")


class PodRecord(BaseModel):
    name: str
    node: str
    address: str
    uses: str
    replicas: int = 1
    image: str | None = None
    status: str = "starting"
    peas: list[PeaRecord] = Field(default_factory=list)
    node_started: float | None = Field(None, description="start time of the node's jinad that "
                                       "spawned the Peas: a node that restarted lost them")
    restarts: int = Field(0, description="times its node restarted a Pea of it (GET /flow)")
    running_replicas: int | None = Field(None, description="GET /flow: how many of its replicas "
                                         "run now (``replicas`` is how many should)")
    reason: str | None = Field(None, description="why it failed: the last exit, once its "
                               "restart policy is spent (GET /flow)")


class GatewayRecord(BaseModel):
    node: str
    host: str
    port_expose: int
    port_http: int | None = None
    port_ctrl: int
    status: str = "starting"
    node_started: float | None = Field(None, description="as PodRecord.node_started")


class FlowRecord(BaseModel):
    type: Literal["flow.v1"] = "flow.v1"
    flow_id: str
    kind: Literal["flow", "pod"] = "flow"
    yaml: str = Field("", description="the Flow's YAML; empty when yaml_ref holds it")
    yaml_ref: str | None = Field(None, description="key of the YAML in the jinad_files object "
                                 "store, when it is too large for this record (a KV value is one "
                                 "NATS message)")
    origin: str = Field(description="node whose edge created it")
    created: float
    status: FlowStatus = "starting"
    gateway: GatewayRecord | None = None
    pods: list[PodRecord] = Field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def nodes(self) -> set[str]:
        names = {p.node for p in self.pods} | {e.node for p in self.pods for e in p.peas if e.node}
        if self.gateway is not None:
            names.add(self.gateway.node)
        return names
