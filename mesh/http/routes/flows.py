"""``/flow``: create a Flow across the mesh from YAML, read it from any node, delete it.

A Flow YAML may be as large as the upload limit (32 MiB): it is decoded and parsed in a
worker thread, so heartbeats and other requests go on while it is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from sanic import Blueprint
from sanic.response import HTTPResponse, json, text

from mesh.errors import BadRequestError
from mesh.http.apidoc import FormField, answers
from mesh.http.context import EdgeRequest
from mesh.http.models import DeleteFlowQuery, FlowQuery
from mesh.http.responses import DeletedFlowBody, FlowBody, FlowsBody, flow_body
from mesh.http.startable import check_startable
from mesh.http.uploads import collect_files, single_file
from mesh.http.validation import query

if TYPE_CHECKING:
    from mesh.events.records import FlowRecord, PodRecord
    from mesh.flow.flow import Flow

__all__ = ["bp"]

logger = logging.getLogger("jinad")
PROGRESS_EVERY_S = 10.0  # a Flow that takes long to start says so this often

bp = Blueprint("flows")

UPLOAD_FORM = (
    FormField("yamlspec", "the Flow YAML (!Flow, version: 1, pods: [...])", required=True),
    FormField("uses_files", "executor files, by their relative paths (filename)", many=True),
    FormField("pymodules_files", "Python modules the executors import", many=True),
)
_YAML = {"type": "string", "description": "the Flow's YAML"}


def _load(raw: bytes) -> tuple[str, Flow]:
    """The YAML text and the Flow it describes (in a worker thread: it may be megabytes)."""
    from mesh.flow.flow import Flow

    try:
        yaml_text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("the uploaded yamlspec is not UTF-8 text") from exc
    source = yaml_text if "\n" in yaml_text or yaml_text.startswith("!") else yaml_text + "\n"
    return yaml_text, Flow.load_config(source)


@bp.put("/flow/yaml", strict_slashes=False)
@answers(FlowBody, errors=(400, 403, 409, 413, 500, 503, 504), form=UPLOAD_FORM)
async def create_flow(request: EdgeRequest) -> HTTPResponse:
    """Start a Flow from an uploaded YAML (field ``yamlspec``) on the nodes it names."""
    ctx = request.app.ctx
    raw = single_file(request, "yamlspec")
    files = collect_files(request, max_bytes=ctx.max_upload_bytes)
    ctx.policy.check_uploads(files)
    yaml_text, flow = await asyncio.to_thread(_load, raw)
    ctx.policy.check_pods(flow.pods)
    check_startable(flow.pods)
    logger.info("flow %s: starting %d pod(s), %d file(s) uploaded", flow.flow_id, len(flow.pods),
                len(files))
    record = await _with_progress(flow.flow_id, ctx.deployer.create_flow(
        flow, yaml_text=yaml_text, files=files))
    logger.info("flow %s created: %s; gateway %s", flow.flow_id, _placed(record),
                f"{record.gateway.host}:{record.gateway.port_expose}" if record.gateway else "-")
    return json(flow_body(record, status="started").model_dump(mode="json"))


@bp.get("/flow/parameters")
@answers(content={"application/json": {"type": "object", "description": "a JSON Schema"}})
async def flow_parameters(request: EdgeRequest) -> HTTPResponse:
    """The JSON Schema of a Flow YAML's arguments."""
    from mesh.flow.spec import FlowDocument

    return json(FlowDocument.model_json_schema(by_alias=True))


@bp.get("/flow/<flow_id:str>")
@answers(FlowBody, errors=(404, 503), content={"application/yaml": _YAML})
@query(FlowQuery)
async def get_flow(request: EdgeRequest, flow_id: str, query: FlowQuery) -> HTTPResponse:
    """The Flow's gateway (``host``, ``port``), YAML, and each pod's node and status
    (``?yaml_only=true``: the YAML alone, as ``application/yaml``)."""
    deployer = request.app.ctx.deployer
    record = await deployer.get(flow_id)
    yaml = await deployer.flow_yaml(record)
    if query.yaml_only:
        return text(yaml, content_type="application/yaml")
    return json(flow_body(record, yaml=yaml).model_dump(mode="json"))


@bp.get("/flows")
@answers(FlowsBody, errors=(503,))
async def list_flows(request: EdgeRequest) -> HTTPResponse:
    """Every Flow of the mesh (a large Flow's YAML is left out: GET /flow/{id} has it)."""
    records = await request.app.ctx.deployer.list()
    flows = [flow_body(r) for r in records if r.kind == "flow"]
    return json(FlowsBody(flows=flows).model_dump(mode="json"))


@bp.delete("/flow", strict_slashes=False)
@answers(DeletedFlowBody, errors=(404, 503))
@query(DeleteFlowQuery)
async def delete_flow(request: EdgeRequest, query: DeleteFlowQuery) -> HTTPResponse:
    """Stop every Pea of the Flow on every node, then answer."""
    await request.app.ctx.deployer.delete(query.flow_id)
    logger.info("flow %s deleted", query.flow_id)
    return json(DeletedFlowBody(flow_id=query.flow_id).model_dump(mode="json"))


async def _with_progress(flow_id: str, start: Any) -> FlowRecord:
    """Await the Flow's start; every PROGRESS_EVERY_S a line says it is still waiting (a failed
    start is the deployer's line, with its reason)."""
    task = asyncio.ensure_future(start)
    began = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
            if done:
                return task.result()  # type: ignore[no-any-return]
            logger.info("flow %s: still starting after %.0f s (waiting for its pods' Peas)",
                        flow_id, time.monotonic() - began)
    except asyncio.CancelledError:
        task.cancel()
        raise


def _placed(record: FlowRecord) -> str:
    def where(p: PodRecord) -> str:
        nodes = sorted({e.node for e in p.peas if e.node and e.node != p.node})
        return f"{p.name} on {p.node}" + (f" x{p.replicas}" if p.replicas > 1 else "") + (
            f" (replicas also on {', '.join(nodes)})" if nodes else "")
    return ", ".join(where(p) for p in record.pods) or "no pods"
