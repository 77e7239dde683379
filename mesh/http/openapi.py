"""The edge's OpenAPI 3.1 document, built from its routes and pydantic models, at
``/docs/openapi.json`` (a Swagger UI page at ``/docs``).

Each route says what it takes and answers (:mod:`mesh.http.apidoc`); this module turns
that into paths, parameters, request bodies and responses, every error status with the
one error envelope. OpenAPI 3.1 schemas are JSON Schema, so pydantic's schemas go in as
they are (``anyOf`` with ``null`` for optional fields, which 3.0 cannot say).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from sanic import Blueprint
from sanic.response import HTTPResponse, html, json

from mesh.http.apidoc import ApiDoc, api_doc
from mesh.http.context import EdgeApp, EdgeRequest
from mesh.http.responses import ErrorEnvelope
from mesh.names import ID_MAX

__all__ = ["bp", "build_document"]

bp = Blueprint("docs")

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>")
ID_SCHEMA = {"type": "string", "pattern": f"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{ID_MAX - 1}}}$"}
_BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
WHY = {
    400: "bad input: the message names the field",
    401: "no token, or a wrong one: send 'Authorization: Bearer <token>'",
    403: "refused by a rule of this node (--allow-uses, --allow-images, --no-uploads)",
    404: "no such flow or pod in the mesh",
    413: "the body is over this node's upload limit (--max-upload-bytes)",
    500: "an executor failed on its node (its message and traceback in detail)",
    503: "the broker is unreachable, or this node is starting or not in the mesh: retry",
    504: "a node did not answer in time (a Pea slow to be ready)",
}
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="api"></div>
<p>The OpenAPI document: <a href="/docs/openapi.json">/docs/openapi.json</a></p>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>window.onload = () => SwaggerUIBundle({{url: "/docs/openapi.json", dom_id: "#api"}});
</script></body></html>
"""


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _scalar(prop: dict[str, Any]) -> dict[str, Any]:
    """A query field's schema without the ``null`` an optional field adds (absent is null)."""
    out = {k: v for k, v in prop.items() if k not in ("title", "default", "description")}
    options = [o for o in out.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        out.update(options[0])
    elif options:
        out["anyOf"] = options
    return out


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""), "schema": _scalar(prop)}
            for name, prop in schema.get("properties", {}).items()]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": ID_SCHEMA,
             "description": "a flow or pod id"} for name in _PARAM.findall(path)]


def _form_body(doc: ApiDoc) -> dict[str, Any]:
    props = {f.name: ({"type": "array", "items": _BINARY} if f.many else _BINARY)
             | {"description": f.description} for f in doc.form}
    schema = {"type": "object", "properties": props,
              "required": [f.name for f in doc.form if f.required]}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _responses(doc: ApiDoc, *, token: bool) -> dict[str, Any]:
    content = (_json_content(_ref(doc.ok)) if doc.ok else {}) | doc.ok_content
    out: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    errors = set(doc.errors) | ({401} if token and not doc.open else set())
    for status in sorted(errors):
        out[str(status)] = {"description": WHY.get(status, "error"),
                            "content": _json_content(_ref(ErrorEnvelope))}
    return out


def _operation(name: str, handler: Any, doc: ApiDoc, path: str, *, token: bool) -> dict[str, Any]:
    summary, _, more = (handler.__doc__ or name).strip().partition("\n\n")
    op: dict[str, Any] = {"operationId": name, "summary": " ".join(summary.split()),
                          "tags": [name.split(".")[0]], "responses": _responses(doc, token=token)}
    if more.strip():
        op["description"] = " ".join(more.split())
    params = _path_parameters(path) + (_query_parameters(doc.query) if doc.query else [])
    if params:
        op["parameters"] = params
    if doc.body is not None:
        op["requestBody"] = {"required": True, "content": _json_content(_ref(doc.body))}
    elif doc.form:
        op["requestBody"] = _form_body(doc)
    if token and doc.open:
        op["security"] = []
    return op


def _models(docs: list[ApiDoc]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorEnvelope, "serialization"): None}
    for doc in docs:
        if doc.body is not None:
            wanted[(doc.body, "validation")] = None
        if doc.ok is not None:
            wanted[(doc.ok, "serialization")] = None
    return list(wanted)


def build_document(app: EdgeApp) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s documented routes (websockets are not HTTP operations)."""
    token = app.ctx.token_required
    paths: dict[str, dict[str, Any]] = {}
    docs = []
    for route in sorted(app.router.routes, key=lambda r: r.path):
        doc = api_doc(route.handler)
        if doc is None or route.extra.websocket:
            continue
        docs.append(doc)
        path = "/" + _PARAM.sub(r"{\1}", route.path)
        name = route.name.split(".", 1)[-1]
        for method in sorted(route.methods):
            paths.setdefault(path, {})[method.lower()] = _operation(
                name, route.handler, doc, route.path, token=token)
    _, defs = models_json_schema(_models(docs), ref_template=_REF)
    components: dict[str, Any] = {"schemas": defs.get("$defs", {})}
    out: dict[str, Any] = {"openapi": "3.1.0", "info": {
        "title": "jinad mesh", "version": app.ctx.version,
        "description": "The HTTP edge of a jinad node: flows, pods, nodes, logs. Every error "
                       "is {error, message, detail, status_code}."}, "paths": paths}
    if token:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        out["security"] = [{"bearer": []}]
    out["components"] = components
    return out


@bp.get("/docs/openapi.json")
async def openapi_document(request: EdgeRequest) -> HTTPResponse:
    ctx = request.app.ctx
    if ctx.openapi is None:
        ctx.openapi = build_document(request.app)
    return json(ctx.openapi)


@bp.get("/docs", strict_slashes=False)
async def docs_page(request: EdgeRequest) -> HTTPResponse:
    return html(_PAGE.format(title=f"jinad {request.app.ctx.name}"))
