"""What the edge's routes take: JSON bodies and query strings, as pydantic models.

They validate the input (a wrong type is a 400 naming the field, see
:mod:`mesh.http.validation`) and describe it in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from mesh.events.models import MAX_LEASE_S, LeaseS, PeaData
from mesh.flow.spec import PodSpec
from mesh.names import ID_MAX, NAME_MAX, Id, check_name
from mesh.scheduler.deployer import MAX_PORTS

__all__ = ["MAX_LEASE_S", "MAX_PORTS", "DeleteFlowQuery", "DeletePodQuery", "FlowQuery",
           "LeaseQuery", "LogsQuery", "PodRequest", "PortsBody", "ResumeMessage"]



def _name_schema(max_len: int) -> WithJsonSchema:
    """The rule of mesh.names as a JSON Schema pattern (the validator gives the message)."""
    return WithJsonSchema({"type": "string",
                           "pattern": f"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{max_len - 1}}}$"})


PodName = Annotated[str, AfterValidator(check_name), _name_schema(NAME_MAX)]
IdField = Annotated[Id, _name_schema(ID_MAX)]

def _pod_schema(schema: dict[str, Any]) -> None:
    """What PodSpec's validators take, said in its JSON Schema too: ``needs`` may be one
    name, ports are 1-65535, a name follows the rule of mesh.names, a ready deadline is at
    most a day."""
    props = schema.get("properties", {})
    options = {name: props.get(name, {}).get("anyOf", []) for name in props}
    options.get("needs", []).insert(0, {"type": "string"})
    for name in ("port_in", "port_out", "port_ctrl", "port_expose"):
        for option in options.get(name, []):
            if option.get("type") == "integer":
                option.update(minimum=1, maximum=65535)
    for option in options.get("name", []):
        if option.get("type") == "string":
            option["pattern"] = f"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{NAME_MAX - 1}}}$"
    if "timeout_ready_s" in props:
        props["timeout_ready_s"]["maximum"] = MAX_LEASE_S


class PodRequest(PodSpec):
    """``PUT /pod``: the pod's arguments (as in ``Flow.add``), and how to run it."""

    model_config = ConfigDict(json_schema_extra=_pod_schema)

    pod_id: IdField | None = Field(None, description="id of the pod in the mesh (default: a new one)")
    flow_id: IdField | None = Field(None, description="older name of pod_id")
    peas: list[PeaData] | None = Field(
        None, min_length=1, description="Pea configurations planned by the caller, at least "
        "one (default: this node plans)")
    lease_s: LeaseS | None = Field(None, description="remove the pod unless its lease is renewed "
                                   "within this many seconds (PUT /pod/{id}/lease)")
    lease: bool = Field(False, description="a lease of the node's default length (jinad "
                        "--lease-s) when lease_s is not given")
    files: dict[str, Any] | None = Field(None, description="ignored: files travel with a Flow "
                                         "(PUT /flow/yaml)")

    @model_validator(mode="before")
    @classmethod
    def _lease_true(cls, data: Any) -> Any:
        """``"lease_s": true`` asks for a lease of the default length."""
        if isinstance(data, dict) and data.get("lease_s") is True:
            return {**data, "lease_s": None, "lease": True}
        return data

    def pod(self) -> PodSpec:
        """The pod's own arguments, those given marked as set (``model_fields_set``)."""
        given = self.model_fields_set & set(PodSpec.model_fields)
        return PodSpec.model_validate({k: getattr(self, k) for k in given})

    def lease_length(self, default_s: float) -> float | None:
        return self.lease_s if self.lease_s is not None else default_s if self.lease else None


class LeaseQuery(BaseModel):
    """``PUT /pod/{id}/lease?lease_s=``."""

    lease_s: LeaseS | None = Field(None, description="renew for this long (default: the node's "
                                   "lease, jinad --lease-s)")


class PortsBody(BaseModel):
    """``POST /ports``: free ports on a node, chosen by that node."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(None, description="node name or address (default: this node)")
    count: int = Field(1, ge=1, le=MAX_PORTS, description="how many")


class FlowQuery(BaseModel):
    """``GET /flow/{id}``."""

    yaml_only: bool = Field(False, description="answer with the Flow's YAML only")


class DeleteFlowQuery(BaseModel):
    """``DELETE /flow?flow_id=``."""

    flow_id: IdField = Field(description="the Flow to stop")


class DeletePodQuery(BaseModel):
    """``DELETE /pod?pod_id=``."""

    pod_id: IdField = Field(description="the pod to stop")


class LogsQuery(BaseModel):
    """``GET /logs/{id}``."""

    pod: PodName | None = Field(None, description="only this pod's lines")
    follow: bool = Field(False, description="keep streaming new lines until the Flow is deleted")


class ResumeMessage(BaseModel):
    """The first websocket message of ``/logstream/{id}``, optional."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(0, ge=0, alias="from", description="skip this many lines")
