"""Bearer tokens on the edge: with a token, every route but the probes and the API document needs it.

``Authorization: Bearer <token>`` (the scheme in any case, as RFC 9110 has it), compared
in constant time. Without a token the edge is open: jinad allows that on loopback, or
beyond it only with ``--insecure`` (see :mod:`mesh.http.tokens`), and then says so once.
"""

from __future__ import annotations

import hmac
import logging

from sanic.response import HTTPResponse

from mesh.http.context import EdgeApp, EdgeRequest
from mesh.http.errors import error_response
from mesh.http.tokens import parse_bearer

__all__ = ["OPEN_PATHS", "install_auth", "is_open"]

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/alive", "/health", "/ready")
OPEN_PREFIXES = ("/docs",)  # the API document and its page: nothing a caller could act on


def is_open(path: str) -> bool:
    path = path.rstrip("/") or "/"
    return path in OPEN_PATHS or any(path == p or path.startswith(p + "/") for p in OPEN_PREFIXES)


def install_auth(app: EdgeApp, token: str | None, *, insecure: bool = False) -> None:
    if not token:
        if insecure:
            logger.warning("the edge takes calls without a token (--insecure): anyone who reaches "
                           "it can run code on this node; use this on a trusted network only")
        return
    expected = token.encode()

    @app.on_request
    async def check_token(request: EdgeRequest) -> HTTPResponse | None:
        if is_open(request.path):
            return None
        header = request.headers.get("authorization") or ""
        given = parse_bearer(header)
        if given is not None and hmac.compare_digest(given.encode(), expected):
            return None
        why = "missing" if not header else "wrong"
        return error_response(401, "UnauthorizedError",
                              f"{why} token: send 'Authorization: Bearer <token>' (mesh --token, "
                              "Flow(token=...), JINAD_TOKEN)", headers={"WWW-Authenticate": "Bearer"})
