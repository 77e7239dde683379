"""Bearer tokens on the edge: with a token, every route but the probes and the API document needs it.

``Authorization: Bearer <token>`` (the scheme in any case, as RFC 9110 has it), compared
in constant time. A browser cannot set that header on an ``EventSource``, so the dashboard
(``/ui``) posts the token once to ``POST /ui/login``, which sets it in the cookie
``mesh_token`` (HttpOnly, SameSite=Strict: other sites' pages never send it), and every
route takes the cookie as it takes the header. Without a token the edge is open: jinad allows that on loopback, or
beyond it only with ``--insecure`` (see :mod:`mesh.http.tokens`), and then says so once.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from sanic.response import HTTPResponse, json

from mesh.http.context import EdgeApp, EdgeRequest
from mesh.http.errors import error_response
from mesh.http.tokens import TokenSource, parse_bearer

__all__ = ["COOKIE", "OPEN_PATHS", "install_auth", "is_open"]

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/alive", "/health", "/ready")
# the API document and the dashboard's page, its files and its login: nothing to act on
OPEN_PREFIXES = ("/docs", "/ui")
COOKIE = "mesh_token"


def is_open(path: str) -> bool:
    path = path.rstrip("/") or "/"
    return path in OPEN_PATHS or any(path == p or path.startswith(p + "/") for p in OPEN_PREFIXES)


def install_auth(app: EdgeApp, token: str | None, *, insecure: bool = False,
                 token_file: Path | None = None) -> None:
    """``token_file``: where a stored or generated token lives; it is read again when it
    changes (``jinad token rotate``)."""
    if not token:
        _install_login(app, None)
        if insecure:
            logger.warning("the edge takes calls without a token (--insecure): anyone who reaches "
                           "it can run code on this node; use this on a trusted network only")
        return
    source = TokenSource(token, token_file)
    _install_login(app, source)

    @app.on_request
    async def check_token(request: EdgeRequest) -> HTTPResponse | None:
        if is_open(request.path):
            return None
        header = request.headers.get("authorization") or ""
        given = parse_bearer(header) if header else request.cookies.get(COOKIE)
        if given is not None and hmac.compare_digest(given.encode(), source.current().encode()):
            return None
        why = "wrong" if header or given is not None else "missing"
        return error_response(401, "UnauthorizedError",
                              f"{why} token: send 'Authorization: Bearer <token>' (mesh --token, "
                              "Flow(token=...), JINAD_TOKEN)", headers={"WWW-Authenticate": "Bearer"})


def _install_login(app: EdgeApp, source: TokenSource | None) -> None:
    """``POST /ui/login`` (form field ``token``): the right token is set in the cookie."""

    async def ui_login(request: EdgeRequest) -> HTTPResponse:
        given = request.form.get("token") if request.form else None
        if source is None:
            return json({"status_code": 200, "login": "no token needed"})
        if not given or not hmac.compare_digest(given.encode(), source.current().encode()):
            return error_response(401, "UnauthorizedError", "wrong token: give the edge's token "
                                  "(jinad --token, JINAD_TOKEN, or the state dir's edge-token)")
        response = json({"status_code": 200, "login": "ok"})
        response.add_cookie(COOKIE, given, path="/", httponly=True, samesite="Strict",
                            secure=request.scheme == "https")
        return response

    app.add_route(ui_login, "/ui/login", methods=["POST"], name="ui_login")
