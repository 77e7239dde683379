"""The HTTP edge of a node: a Sanic app over the agent and the deployer."""

from __future__ import annotations

from typing import Any

from sanic import Sanic
from sanic_ext import Extend

from mesh.http.auth import install_auth
from mesh.http.errors import install_error_handlers
from mesh.http.routes import flows, logs, nodes, pods

__all__ = ["create_app"]


def create_app(*, name: str, version: str, token: str | None, max_upload_bytes: int,
               ctx: dict[str, Any] | None = None) -> Sanic:
    app = Sanic(f"jinad_{name}".replace("-", "_").replace(".", "_"), configure_logging=False)
    app.config.REQUEST_MAX_SIZE = max_upload_bytes + 1024 * 1024
    app.config.REQUEST_TIMEOUT = 600
    app.config.RESPONSE_TIMEOUT = 600
    app.config.KEEP_ALIVE_TIMEOUT = 30
    app.config.OAS_UI_DEFAULT = "swagger"
    app.config.API_TITLE = "jinad mesh"
    app.config.API_VERSION = version
    app.config.API_DESCRIPTION = "The HTTP edge of a jinad node: flows, pods, nodes, logs."
    app.config.CORS = False
    Extend(app)
    app.ctx.version = version
    app.ctx.max_upload_bytes = max_upload_bytes
    for key, value in (ctx or {}).items():
        setattr(app.ctx, key, value)
    for bp in (nodes.bp, flows.bp, pods.bp, logs.bp):
        app.blueprint(bp)
    install_error_handlers(app)
    install_auth(app, token)
    return app
