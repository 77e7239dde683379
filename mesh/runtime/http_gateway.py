"""Plain HTTP JSON in front of the gateway, so that curl and other languages can use a Flow.

``POST /post/<endpoint>`` (and ``/index``, ``/search``, ``/update``, ``/delete``) with
``{"data": [...], "parameters": {...}}``; ``GET /status``. The standard library's
threading HTTP server keeps the gateway's start fast; each request is relayed
to the gateway's own ZeroMQ port by a per-thread Client.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mesh.errors import BadRequestError, MeshError, PeaStartError
from mesh.types.codec import dumps, loads

__all__ = ["HttpGateway"]

logger = logging.getLogger("mesh.pea")
_SHORTCUTS = {"/index", "/search", "/update", "/delete"}
MAX_BODY = 64 * 1024 * 1024
HEALTH_TIMEOUT_S = 1.0  # a Pea that does not answer status within this is unreachable
_SHUTDOWN_POLL_S = 0.05  # how soon the server notices stop(); the stdlib's 0.5 s slows every Flow close


class HttpGateway:
    def __init__(self, *, port_http: int, port_expose: int,
                 pod_controls: dict[str, list[str]] | None = None) -> None:
        self.port_expose = port_expose
        self.pod_controls = pod_controls or {}
        self._local = threading.local()
        handler = type("Handler", (_Handler,), {"gateway": self})
        try:
            self.server = ThreadingHTTPServer(("0.0.0.0", port_http), handler)
        except OSError as exc:
            raise PeaStartError(f"gateway: cannot bind HTTP port {port_http}: {exc.strerror}; "
                                "choose another port_http or leave it unset",
                                detail={"port": port_http}) from exc
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(_SHUTDOWN_POLL_S,),
                                        name="http", daemon=True)

    def pod_health(self) -> dict[str, str]:
        """Each pod's readiness: ``ready`` when every Pea of it answers ``status`` on its
        control socket within HEALTH_TIMEOUT_S (asked all at once), else ``unreachable``."""
        from concurrent.futures import ThreadPoolExecutor

        from mesh.runtime.control import ctrl_request
        from mesh.runtime.sockets import resolve_address

        def answers(address: str) -> bool:
            host, _, port = resolve_address(address).rpartition(":")
            try:
                ctrl_request(host, int(port), "status", timeout_s=HEALTH_TIMEOUT_S)
            except MeshError:
                return False
            return True

        flat = [(pod, a) for pod, addresses in self.pod_controls.items() for a in addresses]
        if not flat:
            return {}
        with ThreadPoolExecutor(max_workers=min(len(flat), 16)) as pool:
            results = list(pool.map(lambda item: answers(item[1]), flat))
        health = {pod: "ready" for pod in self.pod_controls}
        for (pod, _), ok in zip(flat, results, strict=True):
            if not ok:
                health[pod] = "unreachable"
        return health

    def start(self) -> None:
        self._thread.start()
        logger.info("HTTP JSON on http://0.0.0.0:%d", self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from mesh.client.client import Client

            client = self._local.client = Client(host="127.0.0.1", port_expose=self.port_expose,
                                                 timeout_s=600)
        return client

    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        from mesh.types.jsondoc import doc_from_json, doc_to_json

        endpoint = path[len("/post"):] if path.startswith("/post/") else path
        data = body.get("data") or []
        if not isinstance(data, list):
            raise BadRequestError("'data' must be a list of Documents (objects or strings)")
        params = body.get("parameters") or {}
        docs = [doc_from_json(d) for d in data]
        size = body.get("request_size") or max(len(docs), 1)
        responses = self.client().post(endpoint, docs, parameters=params, request_size=size)
        out_docs = [doc_to_json(d) for r in responses for d in r.docs]
        failed = [r.status for r in responses if r.failed]
        header = {"endpoint": endpoint, "requests": len(responses),
                  "route": responses[-1].route if responses else [],
                  "status": failed[0] if failed else {"code": 0}}
        return {"header": header, "data": out_docs, "parameters": responses[-1].parameters if responses else {}}


class _Handler(BaseHTTPRequestHandler):
    gateway: HttpGateway
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        logger.debug("http %s", fmt % args)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/status", ""):
            self._send(HTTPStatus.OK, {"status": "ready", "port_expose": self.gateway.port_expose})
        elif self.path.rstrip("/") == "/health":
            pods = self.gateway.pod_health()
            ready = all(state == "ready" for state in pods.values())
            self._send(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
                       {"status": "ready" if ready else "degraded", "pods": pods})
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no route GET {self.path}; try POST /post/<endpoint>")

    def do_POST(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if not (path in _SHORTCUTS or path.startswith("/post/")):
            self._error(HTTPStatus.NOT_FOUND, "NotFound",
                        f"no route POST {path}; use /post/<endpoint>, /index or /search")
            return
        try:
            body = self._body()
            self._send(HTTPStatus.OK, self.gateway.handle(path, body))
        except MeshError as exc:
            self._send(HTTPStatus(exc.status), exc.to_dict())
        except Exception as exc:
            logger.exception("HTTP request failed")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, type(exc).__name__, str(exc))

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadRequestError(f"body of {length} bytes is over the {MAX_BODY} byte limit")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = loads(raw)
        except Exception as exc:
            raise BadRequestError(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise BadRequestError('body must be a JSON object like {"data": [...], "parameters": {}}')
        return body

    def _error(self, status: HTTPStatus, error: str, message: str) -> None:
        self._send(status, {"error": error, "message": message, "detail": {}})

    def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
