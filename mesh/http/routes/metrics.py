"""``/metrics`` and ``/sd/prometheus``: what Prometheus scrapes, and where to find it.

``/metrics`` is this node in the Prometheus text format: its bus, its log shipping, its
process (CPU, memory, files), its Peas by status, and every Pea's figures by endpoint,
asked of the Peas at scrape time (:mod:`mesh.agents.metrics`). ``--no-metrics`` makes it
a 404. ``/sd/prometheus`` is Prometheus's HTTP service discovery: every live node's
``/metrics`` target, so that one ``http_sd_configs`` entry follows the mesh as it grows and
shrinks. Both need the edge token, which Prometheus sends as ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import re

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sanic import Blueprint
from sanic.response import HTTPResponse, json, raw

from mesh.errors import NotFoundError
from mesh.events.models import NodeInfo
from mesh.http.apidoc import answers
from mesh.http.context import EdgeRequest

__all__ = ["bp", "sd_targets"]

bp = Blueprint("metrics")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_TEXT = {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}
_SD = {"application/json": {"schema": {"type": "array", "items": {
    "type": "object", "required": ["targets", "labels"], "properties": {
        "targets": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}


@bp.get("/metrics")
@answers(content=_TEXT, errors=(404,))
async def metrics(request: EdgeRequest) -> HTTPResponse:
    """This node and its Peas in the Prometheus text format (404 with --no-metrics)."""
    if not request.app.ctx.metrics:
        raise NotFoundError(f"node {request.app.ctx.name} serves no metrics (--no-metrics)")
    body = await asyncio.to_thread(generate_latest, REGISTRY)  # asks the Peas: off the loop
    return raw(body, content_type=CONTENT_TYPE_LATEST)


@bp.get("/sd/prometheus")
@answers(content=_SD, errors=(503,))
async def sd_prometheus(request: EdgeRequest) -> HTTPResponse:
    """Prometheus HTTP service discovery: a target per live node of the mesh."""
    return json(sd_targets(await request.app.ctx.nodes.live_nodes()))


def sd_targets(nodes: list[NodeInfo]) -> list[dict[str, object]]:
    """One target group per node: its edge ``address:port``, and ``__meta_mesh_*`` labels
    (node name, version, each node label) for the scrape config's relabelling."""
    out: list[dict[str, object]] = []
    for node in sorted(nodes, key=lambda n: n.name):
        host = f"[{node.address}]" if ":" in node.address else node.address
        labels = {"__meta_mesh_node": node.name, "__meta_mesh_version": node.version}
        labels |= {f"__meta_mesh_label_{_NOT_LABEL.sub('_', k)}": v for k, v in node.labels.items()}
        out.append({"targets": [f"{host}:{node.port}"], "labels": labels})
    return out
