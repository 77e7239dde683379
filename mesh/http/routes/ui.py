"""``/ui``: the dashboard, a static page shipped in the package (mesh/http/static/) whose own
JavaScript reads the edge's API: ``GET /nodes``, ``/flows``, ``/flow/{id}``, and the
server-sent events of ``/logs/{id}`` and ``/events/{id}``. No CDN, no build step.

The page and its files are open (nothing in them a caller could act on); with a token the
page asks for it once and ``POST /ui/login`` (:mod:`mesh.http.auth`) sets it in a cookie.
"""

from __future__ import annotations

from importlib import resources

from sanic import Blueprint
from sanic.response import HTTPResponse, json, raw

from mesh.errors import NotFoundError
from mesh.http.auth import COOKIE
from mesh.http.context import EdgeRequest

__all__ = ["STATIC", "bp"]

bp = Blueprint("ui")
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "frame-ancestors 'none'"}
_cache: dict[str, bytes] = {}


def _file(name: str) -> HTTPResponse:
    if name not in STATIC:
        raise NotFoundError(f"no dashboard file {name!r}", detail={"file": name})
    if name not in _cache:
        _cache[name] = resources.files("mesh.http").joinpath("static", name).read_bytes()
    return raw(_cache[name], content_type=STATIC[name], headers=_HEADERS)


@bp.get("/ui", strict_slashes=False)
async def page(request: EdgeRequest) -> HTTPResponse:
    return _file("index.html")


@bp.get("/ui/static/<name:str>")
async def static(request: EdgeRequest, name: str) -> HTTPResponse:
    return _file(name)


@bp.post("/ui/logout")
async def logout(request: EdgeRequest) -> HTTPResponse:
    response = json({"status_code": 200, "login": "out"})
    response.delete_cookie(COOKIE, path="/")
    return response
