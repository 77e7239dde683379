"""``/alive`` and ``/nodes``: who this node is, and who is in the mesh."""

from __future__ import annotations

from sanic import Blueprint
from sanic.response import HTTPResponse, json

from mesh.http.context import EdgeRequest

__all__ = ["bp"]

bp = Blueprint("nodes")


@bp.get("/alive")
async def alive(request: EdgeRequest) -> HTTPResponse:
    """Liveness, the version (as ``jina_version`` too, for older clients) and the node's identity."""
    ctx = request.app.ctx
    nodes = await ctx.nodes.live_nodes()
    return json({"status_code": 200, "jina_version": ctx.version, "version": ctx.version,
                 "node": ctx.name, "address": ctx.address, "mesh_size": len(nodes)})


@bp.get("/nodes")
async def nodes(request: EdgeRequest) -> HTTPResponse:
    """Every live node of the mesh, with its address, labels and load."""
    ctx = request.app.ctx
    live = await ctx.nodes.live_nodes()
    items = []
    for node in sorted(live, key=lambda n: n.name):
        item = node.model_dump()
        item["version_mismatch"] = node.version != ctx.version
        items.append(item)
    return json({"status_code": 200, "nodes": items, "count": len(items)})
