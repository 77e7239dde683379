"""Bearer tokens on the edge: every route but ``/alive`` (and the API docs) needs one when set."""

from __future__ import annotations

import hmac

from sanic.response import HTTPResponse

from mesh.http.context import EdgeApp, EdgeRequest
from mesh.http.errors import error_response

__all__ = ["OPEN_PATHS", "install_auth"]

OPEN_PATHS = ("/alive",)


def install_auth(app: EdgeApp, token: str | None) -> None:
    if not token:
        return
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def check_token(request: EdgeRequest) -> HTTPResponse | None:
        if request.path.rstrip("/") in OPEN_PATHS:
            return None
        given = (request.headers.get("authorization") or "").encode()
        if hmac.compare_digest(given, expected):
            return None
        why = "missing" if not given else "wrong"
        return error_response(401, "UnauthorizedError",
                              f"{why} token: send 'Authorization: Bearer <token>' (mesh --token, "
                              "Flow(token=...), JINAD_TOKEN)")
