"""``GET /flow/{id}/export?format=compose|kubernetes``: a running Flow, planned anew for Compose
or Kubernetes (fresh ports and keys), as one YAML text (several documents for Kubernetes)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field
from sanic import Blueprint
from sanic.response import HTTPResponse, text

from mesh.http.apidoc import answers
from mesh.http.context import EdgeRequest
from mesh.http.validation import query

__all__ = ["ExportQuery", "bp"]

bp = Blueprint("export")


class ExportQuery(BaseModel):
    """``GET /flow/{id}/export``."""

    format: str = Field("compose", description="compose or kubernetes")
    image: str | None = Field(None, description="image of pods without image: "
                              "(default: jinad-mesh:latest)")


def _export(yaml_text: str, flow_id: str, fmt: str, image: str | None) -> str:
    from mesh.export.common import DEFAULT_IMAGE
    from mesh.export.render import check_format, export_text
    from mesh.flow.yamlio import read_flow_yaml

    check_format(fmt)
    source = yaml_text if "\n" in yaml_text or yaml_text.startswith("!") else yaml_text + "\n"
    spec, pods = read_flow_yaml(source)
    return export_text(spec, pods, fmt, flow_dir=None, image=image or DEFAULT_IMAGE,
                       flow_id=flow_id)


@bp.get("/flow/<flow_id:str>/export")
@answers(errors=(400, 404, 503),
         content={"application/yaml": {"type": "string", "description": "the export"}})
@query(ExportQuery)
async def export_flow(request: EdgeRequest, flow_id: str, query: ExportQuery) -> HTTPResponse:
    """The Flow as a Compose file or Kubernetes manifests (``mesh export`` explains them);
    pods with ``host:`` are refused, and so are executor files for Kubernetes."""
    deployer = request.app.ctx.deployer
    record = await deployer.get(flow_id)
    yaml_text = await deployer.flow_yaml(record)
    body = await asyncio.to_thread(_export, yaml_text, flow_id, query.format, query.image)
    return text(body, content_type="application/yaml")
