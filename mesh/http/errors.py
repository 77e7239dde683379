"""One place where errors become ``{"error", "message", "detail", "status_code"}`` with the right status.

Errors of the NATS client that mean "the broker is not there now" (a timeout of a KV or
JetStream call, no connection, reconnecting) are a 503 ``UnavailableError``, not a 500:
the node reconnects by itself and the caller may retry. A message over the broker's
``max_payload`` is a 413.
"""

from __future__ import annotations

import logging
from typing import Any

import nats.errors
import nats.js.errors
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json

from mesh.errors import MeshError, UnavailableError
from mesh.http.context import EdgeApp, EdgeRequest

__all__ = ["BROKER_AWAY", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

BROKER_AWAY: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError, nats.errors.NoServersError, nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError, nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError, nats.errors.FlushTimeoutError,
    nats.js.errors.ServiceUnavailableError, nats.js.errors.NoStreamResponseError,
)
_HEADER_TOO_LARGE = "Request header exceeds the size limit"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: EdgeRequest, exc: SanicException) -> str:
    """The ``Allow`` header of a 405: Sanic's own, or (for a path with parameters, where
    Sanic gives none) every method the router takes on this path."""
    given = str((exc.headers or {}).get("Allow", ""))
    if given:
        return given
    found = []
    for method in _METHODS:
        try:
            request.app.router.get(request.path, method, request.headers.get("host"))
        except SanicException:
            continue
        found.append(method)
    return ", ".join(found)


def error_response(status: int, error: str, message: str, detail: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> HTTPResponse:
    return json({"error": error, "message": message, "detail": detail or {}, "status_code": status},
                status=status, headers=headers)


def _mesh(exc: MeshError, headers: dict[str, str] | None = None) -> HTTPResponse:
    body = exc.to_dict()
    return error_response(exc.status, body["error"], body["message"], body.get("detail"), headers)


def _sanic(request: EdgeRequest, exc: SanicException) -> HTTPResponse:
    status = getattr(exc, "status_code", 500) or 500
    message = str(exc) or type(exc).__name__
    error, detail = type(exc).__name__, dict[str, Any]()
    if status == 404:
        message = f"no route {request.method} {request.path}; see /docs for the API"
    elif status == 405:
        allowed = _allowed(request, exc)
        message = f"{request.method} is not a method of {request.path}; it takes {allowed}"
        detail = {"allow": [m.strip() for m in allowed.split(",") if m.strip()]}
        exc.headers = {**(exc.headers or {}), "Allow": allowed}
    elif status == 413 and str(exc) == _HEADER_TOO_LARGE:
        status, error = 431, "HeaderTooLargeError"
        limit = request.app.config.REQUEST_MAX_HEADER_SIZE
        message = f"the request's headers are over this node's limit of {limit} bytes"
        detail = {"max_header_bytes": limit}
    elif status == 413:
        limit = request.app.ctx.max_upload_bytes
        message = (f"the upload is over this node's limit of {limit} bytes (jinad "
                   "--max-upload-bytes, JINAD_MAX_UPLOAD_BYTES)")
        detail = {"max_upload_bytes": limit}
    elif status == 408:
        message = "the request did not arrive in time; send it again"
    elif status == 503:  # Sanic's response timeout
        message = f"{request.method} {request.path} took too long to answer; retry"
    return error_response(status, error, message, detail, dict(exc.headers or {}))


def install_error_handlers(app: EdgeApp) -> None:
    @app.exception(MeshError)
    async def on_mesh_error(request: EdgeRequest, exc: MeshError) -> HTTPResponse:
        if exc.status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.path, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _mesh(exc, headers)

    @app.exception(SanicException)
    async def on_sanic_error(request: EdgeRequest, exc: SanicException) -> HTTPResponse:
        return _sanic(request, exc)

    @app.exception(*BROKER_AWAY)
    async def on_broker_away(request: EdgeRequest, exc: Exception) -> HTTPResponse:
        logger.warning("%s %s: the broker did not answer: %s: %s", request.method, request.path,
                       type(exc).__name__, exc)
        return _mesh(UnavailableError(
            f"the NATS broker did not answer ({type(exc).__name__}); it may be restarting or "
            "unreachable from this node: retry shortly",
            detail={"broker": "unreachable", "cause": type(exc).__name__}))

    @app.exception(nats.errors.MaxPayloadError)
    async def on_too_large(request: EdgeRequest, exc: Exception) -> HTTPResponse:
        return error_response(413, "MessageTooLargeError",
                              f"a message to the mesh is over the broker's max_payload ({exc}); "
                              "keep pod arguments (uses_with, env) small and ship large data as "
                              "uploaded files")

    @app.exception(Exception)
    async def on_error(request: EdgeRequest, exc: Exception) -> HTTPResponse:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, type(exc).__name__, f"internal error: {exc}")
