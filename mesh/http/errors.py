"""One place where errors become ``{"error", "message", "detail"}`` with the right status."""

from __future__ import annotations

import logging
from typing import Any

from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json

from mesh.errors import MeshError
from mesh.http.context import EdgeApp, EdgeRequest

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(status: int, error: str, message: str,
                   detail: dict[str, Any] | None = None) -> HTTPResponse:
    return json({"error": error, "message": message, "detail": detail or {}, "status_code": status},
                status=status)


def install_error_handlers(app: EdgeApp) -> None:
    @app.exception(MeshError)
    async def on_mesh_error(request: EdgeRequest, exc: MeshError) -> HTTPResponse:
        if exc.status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.path, exc.message)
        body = exc.to_dict()
        return error_response(exc.status, body["error"], body["message"], body.get("detail"))

    @app.exception(SanicException)
    async def on_sanic_error(request: EdgeRequest, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        message = str(exc) or type(exc).__name__
        if status == 404:
            message = f"no route {request.method} {request.path}; see /docs for the API"
        elif status == 413:
            limit = request.app.ctx.max_upload_bytes
            message = (f"the upload is over this node's limit of {limit} bytes (jinad "
                       "--max-upload-bytes, JINAD_MAX_UPLOAD_BYTES)")
        return error_response(status, type(exc).__name__, message)

    @app.exception(Exception)
    async def on_error(request: EdgeRequest, exc: Exception) -> HTTPResponse:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, type(exc).__name__, f"internal error: {exc}")
