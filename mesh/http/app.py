"""The HTTP edge of a node: a Sanic app whose typed context holds the node's services."""

from __future__ import annotations

from sanic import Sanic
from sanic_ext import Extend

from mesh.http.auth import install_auth
from mesh.http.context import EdgeApp, EdgeContext
from mesh.http.errors import install_error_handlers
from mesh.http.routes import flows, logs, nodes, pods

__all__ = ["create_app"]


def create_app(*, name: str, address: str, version: str, token: str | None,
               max_upload_bytes: int, default_lease_s: float) -> EdgeApp:
    """The edge; ``app.ctx.attach(EdgeServices(...))`` once the node has started."""
    ctx = EdgeContext(name=name, address=address, version=version,
                      max_upload_bytes=max_upload_bytes, default_lease_s=default_lease_s)
    app: EdgeApp = Sanic(f"jinad_{name}".replace("-", "_").replace(".", "_"), ctx=ctx,
                         configure_logging=False)
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
    for bp in (nodes.bp, flows.bp, pods.bp, logs.bp):
        app.blueprint(bp)
    install_error_handlers(app)
    install_auth(app, token)
    return app
