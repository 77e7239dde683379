"""``/pod`` and ``/ports``: single pods on a node, for ``mesh pod --host`` and ``Flow.add(host=...)``."""

from __future__ import annotations

import uuid

from sanic import Blueprint
from sanic.response import HTTPResponse, json

from mesh.errors import ConflictError, FlowConfigError, NotFoundError
from mesh.events.records import FlowRecord
from mesh.flow.spec import PodSpec
from mesh.http.apidoc import answers
from mesh.http.context import EdgeRequest
from mesh.http.models import DeletePodQuery, LeaseQuery, PodRequest, PortsBody
from mesh.http.responses import (
    DeletedPodBody,
    LeaseBody,
    PodBody,
    PodsBody,
    ReservedPorts,
    pod_body,
)
from mesh.http.startable import check_startable
from mesh.http.validation import body, query

__all__ = ["bp"]

bp = Blueprint("pods")


def _a_pod(record: FlowRecord, pod_id: str) -> FlowRecord:
    if record.kind != "pod" or not record.pods:
        raise NotFoundError(f"{pod_id!r} is a Flow, not a pod: GET /flow/{pod_id}",
                            detail={"pod_id": pod_id})
    return record


@bp.put("/pod", strict_slashes=False)
@answers(PodBody, errors=(400, 403, 409, 500, 503, 504))
@body(PodRequest, error=FlowConfigError)
async def create_pod(request: EdgeRequest, body: PodRequest) -> HTTPResponse:
    """Start one pod: JSON pod arguments (``uses``, ``replicas``, ``host``...); an id that a
    pod or Flow of the mesh already has is a 409 (and leaves that one alone)."""
    ctx = request.app.ctx
    pod = body.pod()
    pod.name = pod.name or "pod"
    ctx.policy.check_pods([pod])
    ctx.policy.check_peas(pod.name, body.peas or [])
    check_startable([pod])
    pod_id = body.pod_id or body.flow_id or uuid.uuid4().hex
    if await ctx.deployer.exists(pod_id):
        raise ConflictError(f"a pod or Flow with id {pod_id!r} is already in the mesh; delete it "
                            "first (DELETE /pod?pod_id=...) or choose another id",
                            detail={"pod_id": pod_id})
    record = await ctx.deployer.create_pod(
        pod, pod_id=pod_id, host=pod.host, peas=body.peas,
        lease_s=body.lease_length(ctx.default_lease_s), files={})
    return json(pod_body(record).model_dump(mode="json"))


@bp.get("/pod/parameters")
@answers(content={"application/json": {"type": "object", "description": "a JSON Schema"}})
async def pod_parameters(request: EdgeRequest) -> HTTPResponse:
    """The JSON Schema of a pod's arguments."""
    return json(PodSpec.model_json_schema(by_alias=True))


@bp.get("/pod/<pod_id:str>")
@answers(PodBody, errors=(404, 503))
async def get_pod(request: EdgeRequest, pod_id: str) -> HTTPResponse:
    """One pod: its node, address, Peas and status."""
    record = _a_pod(await request.app.ctx.deployer.get(pod_id), pod_id)
    return json(pod_body(record, status=record.pods[0].status).model_dump(mode="json"))


@bp.get("/pods")
@answers(PodsBody, errors=(503,))
async def list_pods(request: EdgeRequest) -> HTTPResponse:
    """Every single pod of the mesh (``PUT /pod``), Flows' pods not included."""
    records = await request.app.ctx.deployer.list()
    pods = [pod_body(r, status=r.pods[0].status) for r in records if r.kind == "pod" and r.pods]
    return json(PodsBody(pods=pods).model_dump(mode="json"))


@bp.delete("/pod", strict_slashes=False)
@answers(DeletedPodBody, errors=(404, 503))
@query(DeletePodQuery)
async def delete_pod(request: EdgeRequest, query: DeletePodQuery) -> HTTPResponse:
    """Stop the pod's Peas, then answer."""
    await request.app.ctx.deployer.delete(query.pod_id)
    return json(DeletedPodBody(pod_id=query.pod_id).model_dump(mode="json"))


@bp.put("/pod/<pod_id:str>/lease")
@answers(LeaseBody, errors=(404, 503))
@query(LeaseQuery)
async def renew_lease(request: EdgeRequest, pod_id: str, query: LeaseQuery) -> HTTPResponse:
    """Keep a pod whose creator may vanish: it is removed when renewals stop."""
    ctx = request.app.ctx
    lease_s = query.lease_s if query.lease_s is not None else ctx.default_lease_s
    await ctx.deployer.get(pod_id)
    await ctx.deployer.renew(pod_id, lease_s)
    return json(LeaseBody(pod_id=pod_id, lease_s=lease_s).model_dump(mode="json"))


@bp.post("/ports")
@answers(ReservedPorts, errors=(503,))
@body(PortsBody)
async def reserve_ports(request: EdgeRequest, body: PortsBody) -> HTTPResponse:
    """Free ports on the node ``host`` names (this node when unset), chosen by that node."""
    reply = await request.app.ctx.deployer.reserve_ports(body.host, body.count)
    return json(ReservedPorts(node=reply.node, address=reply.address,
                              ports=reply.ports).model_dump(mode="json"))
