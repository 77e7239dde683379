"""``/pod`` and ``/ports``: single pods on a node, for ``mesh pod --host`` and ``Flow.add(host=...)``."""

from __future__ import annotations

import uuid
from typing import Any

from sanic import Blueprint
from sanic.response import HTTPResponse, json

from mesh.errors import FlowConfigError
from mesh.events.records import FlowRecord
from mesh.flow.spec import PodSpec
from mesh.http.context import EdgeRequest
from mesh.http.models import DeletePodQuery, LeaseQuery, PodRequest, PortsBody
from mesh.http.validation import body, query

__all__ = ["bp"]

bp = Blueprint("pods")


def _pod_body(record: FlowRecord) -> dict[str, Any]:
    pod = record.pods[0]
    return {"status_code": 200, "pod_id": record.flow_id, "status": "started" if pod.status == "running"
            else pod.status, "node": pod.node, "host": pod.address,
            "peas": [p.model_dump() for p in pod.peas]}


@bp.put("/pod", strict_slashes=False)
@body(PodRequest, error=FlowConfigError)
async def create_pod(request: EdgeRequest, body: PodRequest) -> HTTPResponse:
    """Start one pod: JSON pod arguments (``uses``, ``replicas``, ``host``...)."""
    ctx = request.app.ctx
    pod = body.pod()
    pod.name = pod.name or "pod"
    record = await ctx.deployer.create_pod(
        pod, pod_id=body.pod_id or body.flow_id or uuid.uuid4().hex, host=pod.host, peas=body.peas,
        lease_s=body.lease_length(ctx.default_lease_s), files={})
    return json(_pod_body(record))


@bp.get("/pod/<pod_id:str>")
async def get_pod(request: EdgeRequest, pod_id: str) -> HTTPResponse:
    if pod_id == "parameters":
        return json(PodSpec.model_json_schema(by_alias=True))
    record = await request.app.ctx.deployer.get(pod_id)
    return json(_pod_body(record) | {"status": record.pods[0].status if record.pods else record.status})


@bp.delete("/pod", strict_slashes=False)
@query(DeletePodQuery)
async def delete_pod(request: EdgeRequest, query: DeletePodQuery) -> HTTPResponse:
    await request.app.ctx.deployer.delete(query.pod_id)
    return json({"status_code": 200, "pod_id": query.pod_id, "status": "deleted"})


@bp.put("/pod/<pod_id:str>/lease")
@query(LeaseQuery)
async def renew_lease(request: EdgeRequest, pod_id: str, query: LeaseQuery) -> HTTPResponse:
    """Keep a pod whose creator may vanish: it is removed when renewals stop."""
    ctx = request.app.ctx
    lease_s = query.lease_s or ctx.default_lease_s
    await ctx.deployer.get(pod_id)
    await ctx.deployer.renew(pod_id, lease_s)
    return json({"status_code": 200, "pod_id": pod_id, "lease_s": lease_s})


@bp.post("/ports")
@body(PortsBody)
async def reserve_ports(request: EdgeRequest, body: PortsBody) -> HTTPResponse:
    """Free ports on the node ``host`` names (this node when unset), chosen by that node."""
    reply = await request.app.ctx.deployer.reserve_ports(body.host, body.count)
    return json({"status_code": 200, "node": reply.node, "address": reply.address, "ports": reply.ports})
