"""The HTTP edge of a node: a Sanic app whose typed context holds the node's services.

Timeouts (Sanic measures each from the last byte received or sent on the connection):

- ``REQUEST_TIMEOUT`` (60 s) bounds receiving a request's headers: a client silent for
  that long is cut off.
- ``RESPONSE_TIMEOUT`` bounds the handler stage, which also receives the body: an upload
  goes on as long as its bytes keep coming (each one restarts the clock), and a handler
  may be silent for ``spawn_timeout_s`` plus 30 s, since a Flow start waits up to
  ``spawn_timeout_s`` for its nodes, then stops what started if one failed. A followed
  log stream sends a comment line every 15 s, so it is never silent that long.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sanic import Sanic
from sanic_ext import Extend

from mesh.http import openapi
from mesh.http.auth import install_auth
from mesh.http.context import EdgeApp, EdgeContext
from mesh.http.errors import install_error_handlers
from mesh.http.policy import EdgePolicy
from mesh.http.routes import events, export, flows, logs, metrics, nodes, pods, ui

__all__ = ["REQUEST_TIMEOUT_S", "create_app"]

REQUEST_TIMEOUT_S = 60
_HANDLER_MARGIN_S = 30


def create_app(*, name: str, address: str, version: str, token: str | None,
               max_upload_bytes: int, default_lease_s: float, insecure: bool = False,
               spawn_timeout_s: float = 90.0, allow_uses: Sequence[str] = (),
               allow_images: Sequence[str] = (), no_uploads: bool = False,
               no_metrics: bool = False, token_file: Path | None = None) -> EdgeApp:
    """The edge; ``app.ctx.attach(EdgeServices(...))`` once the node has started."""
    policy = EdgePolicy(allow_uses=tuple(allow_uses), allow_images=tuple(allow_images),
                        no_uploads=no_uploads)
    ctx = EdgeContext(name=name, address=address, version=version,
                      max_upload_bytes=max_upload_bytes, default_lease_s=default_lease_s,
                      token_required=bool(token), policy=policy, metrics=not no_metrics)
    app: EdgeApp = Sanic(f"jinad_{name}".replace("-", "_").replace(".", "_"), ctx=ctx,
                         configure_logging=False)
    app.config.REQUEST_MAX_SIZE = max_upload_bytes + 1024 * 1024
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT_S
    app.config.RESPONSE_TIMEOUT = int(spawn_timeout_s) + 1 + _HANDLER_MARGIN_S
    app.config.KEEP_ALIVE_TIMEOUT = 30
    app.config.OAS = False  # the document is ours (mesh.http.openapi): OpenAPI 3.1
    app.config.CORS = False
    Extend(app)
    for bp in (nodes.bp, flows.bp, export.bp, pods.bp, logs.bp, events.bp, metrics.bp, openapi.bp, ui.bp):
        app.blueprint(bp)
    install_error_handlers(app)
    install_auth(app, token, insecure=insecure, token_file=token_file)
    return app
