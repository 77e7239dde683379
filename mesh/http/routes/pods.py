"""``/pod`` and ``/ports``: single pods on a node, for ``mesh pod --host`` and ``Flow.add(host=...)``."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from mesh.errors import BadRequestError, FlowConfigError
from mesh.events.records import FlowRecord
from mesh.flow.spec import PodSpec

__all__ = ["bp"]

bp = Blueprint("pods")
_CONTROL = ("flow_id", "pod_id", "peas", "lease_s", "files")


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json
    except Exception as exc:
        raise BadRequestError(f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object of pod arguments, e.g. {\"uses\": \"_logforward\"}")
    return body


def _pod_body(record: FlowRecord) -> dict[str, Any]:
    pod = record.pods[0]
    return {"status_code": 200, "pod_id": record.flow_id, "status": "started" if pod.status == "running"
            else pod.status, "node": pod.node, "host": pod.address,
            "peas": [p.model_dump() for p in pod.peas]}


@bp.put("/pod", strict_slashes=False)
async def create_pod(request: Request) -> HTTPResponse:
    """Start one pod: JSON pod arguments (``uses``, ``replicas``, ``host``...)."""
    body = _json_body(request)
    control = {k: body.pop(k) for k in _CONTROL if k in body}
    try:
        pod = PodSpec(**body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise FlowConfigError(f"pod arguments: {problems}") from exc
    pod.name = pod.name or "pod"
    pod_id = str(control.get("pod_id") or control.get("flow_id") or uuid.uuid4().hex)
    lease = control.get("lease_s")
    record = await request.app.ctx.deployer.create_pod(
        pod, pod_id=pod_id, host=pod.host, peas=control.get("peas"),
        lease_s=float(lease) if lease else None, files={})
    return json(_pod_body(record))


@bp.get("/pod/<pod_id:str>")
async def get_pod(request: Request, pod_id: str) -> HTTPResponse:
    if pod_id == "parameters":
        return json(PodSpec.model_json_schema(by_alias=True))
    record = await request.app.ctx.deployer.get(pod_id)
    return json(_pod_body(record) | {"status": record.pods[0].status if record.pods else record.status})


@bp.delete("/pod", strict_slashes=False)
async def delete_pod(request: Request) -> HTTPResponse:
    pod_id = request.args.get("pod_id")
    if not pod_id:
        raise BadRequestError("give the pod as a query parameter: DELETE /pod?pod_id=<id>")
    await request.app.ctx.deployer.delete(pod_id)
    return json({"status_code": 200, "pod_id": pod_id, "status": "deleted"})


@bp.put("/pod/<pod_id:str>/lease")
async def renew_lease(request: Request, pod_id: str) -> HTTPResponse:
    """Keep a pod whose creator may vanish: it is removed when renewals stop."""
    lease_s = float(request.args.get("lease_s", "15"))
    await request.app.ctx.deployer.get(pod_id)
    await request.app.ctx.deployer.renew(pod_id, lease_s)
    return json({"status_code": 200, "pod_id": pod_id, "lease_s": lease_s})


@bp.post("/ports")
async def reserve_ports(request: Request) -> HTTPResponse:
    """Free ports on the node ``host`` names (this node when unset), chosen by that node."""
    body = _json_body(request)
    count = body.get("count", 1)
    if not isinstance(count, int) or not 0 < count <= 256:
        raise BadRequestError("count must be a whole number from 1 to 256")
    reply = await request.app.ctx.deployer.reserve_ports(body.get("host"), count)
    return json({"status_code": 200, "node": reply.node, "address": reply.address, "ports": reply.ports})
