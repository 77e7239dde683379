"""``/flow``: create a Flow across the mesh from YAML, read it from any node, delete it."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint
from sanic.response import HTTPResponse, json, text

from mesh.errors import BadRequestError
from mesh.events.records import FlowRecord
from mesh.http.context import EdgeRequest
from mesh.http.models import DeleteFlowQuery, FlowQuery
from mesh.http.uploads import collect_files, single_file
from mesh.http.validation import query

__all__ = ["bp", "flow_body"]

bp = Blueprint("flows")


def flow_body(record: FlowRecord) -> dict[str, Any]:
    gw = record.gateway
    return {"status_code": 200, "flow_id": record.flow_id, "status": record.status,
            "host": gw.host if gw else None, "port": gw.port_expose if gw else None,
            "port_http": gw.port_http if gw else None, "yaml": record.yaml,
            "gateway": gw.model_dump() if gw else None, "origin": record.origin,
            "created": record.created, "pods": [p.model_dump() for p in record.pods]}


@bp.put("/flow/yaml", strict_slashes=False)
async def create_flow(request: EdgeRequest) -> HTTPResponse:
    """Start a Flow from an uploaded YAML (field ``yamlspec``) on the nodes it names."""
    from mesh.flow.flow import Flow

    ctx = request.app.ctx
    raw = single_file(request, "yamlspec")
    files = collect_files(request, max_bytes=ctx.max_upload_bytes)
    try:
        yaml_text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("the uploaded yamlspec is not UTF-8 text") from exc
    flow = Flow.load_config(yaml_text if "\n" in yaml_text or yaml_text.startswith("!") else yaml_text + "\n")
    record = await ctx.deployer.create_flow(flow, yaml_text=yaml_text, files=files)
    body = flow_body(record)
    body["status"] = "started"
    return json(body)


@bp.get("/flow/<flow_id:str>")
@query(FlowQuery)
async def get_flow(request: EdgeRequest, flow_id: str, query: FlowQuery) -> HTTPResponse:
    """The Flow's gateway (``host``, ``port``), YAML, and each pod's node and status."""
    if flow_id == "parameters":
        from mesh.flow.spec import FlowDocument

        return json(FlowDocument.model_json_schema(by_alias=True))
    record = await request.app.ctx.deployer.get(flow_id)
    if query.yaml_only:
        return text(record.yaml, content_type="application/yaml")
    return json(flow_body(record))


@bp.get("/flows")
async def list_flows(request: EdgeRequest) -> HTTPResponse:
    records = await request.app.ctx.deployer.list()
    return json({"status_code": 200, "flows": [flow_body(r) for r in records if r.kind == "flow"]})


@bp.delete("/flow", strict_slashes=False)
@query(DeleteFlowQuery)
async def delete_flow(request: EdgeRequest, query: DeleteFlowQuery) -> HTTPResponse:
    """Stop every Pea of the Flow on every node, then answer."""
    await request.app.ctx.deployer.delete(query.flow_id)
    return json({"status_code": 200, "flow_id": query.flow_id, "status": "deleted"})
