"""``/alive``, ``/health``, ``/ready`` and ``/nodes``: this node, its probes, and the mesh;
``/nodes/{name}/cordon`` and ``/uncordon``: whether a node takes new pods.

The probes need no token. ``/alive`` and ``/health`` answer as long as the process does,
also while the broker is away (``/alive`` then says ``"broker": "unreachable"``);
``/ready`` is 200 only while the node reaches the broker and is in the mesh's node list.
"""

from __future__ import annotations

import asyncio

from sanic import Blueprint
from sanic.response import HTTPResponse, json

from mesh.errors import UnavailableError
from mesh.events.models import NodeInfo
from mesh.http.apidoc import answers
from mesh.http.context import EdgeContext, EdgeRequest
from mesh.http.errors import BROKER_AWAY
from mesh.http.responses import (
    AliveBody,
    CordonBody,
    HealthBody,
    NodeItem,
    NodesBody,
    ReadyBody,
)
from mesh.scheduler.placer import ineligible

__all__ = ["bp"]

bp = Blueprint("nodes")
PROBE_TIMEOUT_S = 2.0  # a probe answers within this, whatever the broker does
_NO_ANSWER: tuple[type[Exception], ...] = (asyncio.TimeoutError, UnavailableError, *BROKER_AWAY)


async def _live(ctx: EdgeContext) -> list[NodeInfo] | None:
    """The live nodes, or None when the broker cannot say so now."""
    if not ctx.broker_connected:
        return None
    try:
        return await asyncio.wait_for(ctx.nodes.live_nodes(), PROBE_TIMEOUT_S)
    except _NO_ANSWER:
        return None


@bp.get("/alive")
@answers(AliveBody, open=True)
async def alive(request: EdgeRequest) -> HTTPResponse:
    """Liveness, the version (as ``jina_version`` too, for older clients), the node's identity
    and whether it reaches the broker."""
    ctx = request.app.ctx
    live = await _live(ctx)
    body = AliveBody(jina_version=ctx.version, version=ctx.version, node=ctx.name,
                     address=ctx.address, broker="connected" if live is not None else "unreachable",
                     mesh_size=len(live) if live is not None else None)
    return json(body.model_dump(mode="json"))


@bp.get("/health")
@answers(HealthBody, open=True)
async def health(request: EdgeRequest) -> HTTPResponse:
    """Liveness only: 200 while the process answers."""
    return json(HealthBody(node=request.app.ctx.name).model_dump(mode="json"))


@bp.get("/ready")
@answers(ReadyBody, errors=(503,), open=True)
async def ready(request: EdgeRequest) -> HTTPResponse:
    """Readiness: 200 once the node reaches the broker and is in the mesh's node list, else 503."""
    ctx = request.app.ctx
    live = await _live(ctx)
    registered = live is not None and any(n.name == ctx.name for n in live)
    if not registered:
        state = "connected" if live is not None else "unreachable"
        why = "is not in the mesh's node list yet" if live is not None else \
            "cannot reach the NATS broker" if ctx.services is not None else "is still starting"
        raise UnavailableError(f"node {ctx.name} {why}", detail={
            "node": ctx.name, "broker": state, "registered": False})
    return json(ReadyBody(node=ctx.name).model_dump(mode="json"))


@bp.get("/nodes")
@answers(NodesBody, errors=(503,))
async def nodes(request: EdgeRequest) -> HTTPResponse:
    """Every live node of the mesh, with its address, labels and load."""
    ctx = request.app.ctx
    live = await ctx.nodes.live_nodes()
    items = [NodeItem(**node.model_dump(), version_mismatch=node.version != ctx.version,
                      ineligible=ineligible(node), status="cordoned" if node.cordoned else "ready")
             for node in sorted(live, key=lambda n: n.name)]
    return json(NodesBody(nodes=items, count=len(items)).model_dump(mode="json"))


@bp.post("/nodes/<name:str>/cordon")
@answers(CordonBody, errors=(404, 409, 503))
async def cordon(request: EdgeRequest, name: str) -> HTTPResponse:
    """The node takes no new pods (none is placed on it, a pod that names it is a 409); what
    it runs stays. Kept across restarts of its jinad."""
    return await _cordon(request, name, True)


@bp.post("/nodes/<name:str>/uncordon")
@answers(CordonBody, errors=(404, 409, 503))
async def uncordon(request: EdgeRequest, name: str) -> HTTPResponse:
    """The node takes new pods again."""
    return await _cordon(request, name, False)


async def _cordon(request: EdgeRequest, name: str, on: bool) -> HTTPResponse:
    reply = await request.app.ctx.deployer.cordon(name, on)
    body = CordonBody(node=reply.node, status="cordoned" if reply.cordoned else "ready")
    return json(body.model_dump(mode="json"))
