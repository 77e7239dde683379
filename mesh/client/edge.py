"""A client of a jinad node's HTTP edge, for the Flow API and the ``mesh`` command."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from mesh.errors import MeshError, UnavailableError

__all__ = ["EdgeClient"]


class EdgeClient:
    """``EdgeClient('1.2.3.4', 8000, token=...)``; errors come back as the edge's MeshError.

    ``https=True`` for an edge started with ``--tls-cert``; ``ca_file`` names the certificate
    (or its CA) to trust when it is not one the system trusts, such as a self-signed one.
    """

    def __init__(self, host: str, port: int = 8000, *, token: str | None = None,
                 timeout_s: float = 120.0, https: bool = False, ca_file: str | None = None) -> None:
        self.host, self.port, self.token, self.timeout_s = host, port, token, timeout_s
        self.base = f"{'https' if https or ca_file else 'http'}://{host}:{port}"
        self._tls = ssl.create_default_context(cafile=ca_file) if https or ca_file else None

    def __repr__(self) -> str:
        return f"<EdgeClient {self.base}>"

    # -- the API ---------------------------------------------------------------------
    def alive(self) -> dict[str, Any]:
        return self._call("GET", "/alive", timeout_s=5)

    def nodes(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/nodes")["nodes"])

    def reserve_ports(self, host: str | None, count: int) -> dict[str, Any]:
        return self._call("POST", "/ports", {"host": host, "count": count})

    def create_pod(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/pod", body)

    def delete_pod(self, pod_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/pod?pod_id={pod_id}")

    def renew_pod(self, pod_id: str, lease_s: float) -> dict[str, Any]:
        return self._call("PUT", f"/pod/{pod_id}/lease?lease_s={lease_s}", timeout_s=10)

    def cordon(self, node: str, *, on: bool = True) -> dict[str, Any]:
        """Cordon ``node`` (``on=False``: uncordon it)."""
        return self._call("POST", f"/nodes/{urllib.parse.quote(node, safe='')}/"
                          f"{'cordon' if on else 'uncordon'}")

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        return self._call("GET", f"/flow/{flow_id}")

    def flows(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/flows")["flows"])

    def delete_flow(self, flow_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/flow?flow_id={flow_id}")

    def create_flow(self, yaml_text: str, files: dict[str, bytes] | None = None) -> dict[str, Any]:
        parts = [("yamlspec", "flow.yml", yaml_text.encode())]
        parts += [("uses_files", name, data) for name, data in (files or {}).items()]
        body, ctype = _multipart(parts)
        return self._call("PUT", "/flow/yaml", raw=body, content_type=ctype)

    def logs(self, flow_id: str, *, pod: str | None = None, follow: bool = False) -> Iterator[dict[str, Any]]:
        """Log records from the flow's (or pod's) first line; with ``follow``, until closed."""
        query = f"?follow={int(follow)}" + (f"&pod={pod}" if pod else "")
        return self._sse(f"/logs/{flow_id}{query}", follow=follow)

    def events(self, flow_id: str, *, follow: bool = False) -> Iterator[dict[str, Any]]:
        """The flow's lifecycle events (Peas started, ready, exited, failed...) from the first."""
        return self._sse(f"/events/{flow_id}?follow={int(follow)}", follow=follow)

    def _sse(self, path: str, *, follow: bool) -> Iterator[dict[str, Any]]:
        req = self._request("GET", path)
        try:
            resp = urllib.request.urlopen(req, timeout=None if follow else self.timeout_s,
                                          context=self._tls)
        except urllib.error.HTTPError as exc:
            raise self._error(exc) from exc
        except OSError as exc:
            raise self._unreachable(exc) from exc
        with resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("data: "):
                    yield json.loads(line[6:])

    # -- plumbing --------------------------------------------------------------------
    def _request(self, method: str, path: str, data: bytes | None = None,
                 content_type: str | None = None) -> urllib.request.Request:
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        return req

    def _call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
              content_type: str | None = None, timeout_s: float | None = None) -> dict[str, Any]:
        if body is not None:
            raw, content_type = json.dumps(body).encode(), "application/json"
        req = self._request(method, path, raw, content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s,
                                        context=self._tls) as resp:
                return dict(json.loads(resp.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            raise self._error(exc) from exc
        except OSError as exc:
            raise self._unreachable(exc) from exc

    def _error(self, exc: urllib.error.HTTPError) -> MeshError:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        err = MeshError.from_dict({"error": body.get("error", "MeshError"),
                                   "message": body.get("message") or f"HTTP {exc.code} from {self.base}",
                                   "detail": body.get("detail"), "status": exc.code})
        err.status = exc.code
        return err

    def _unreachable(self, exc: OSError) -> UnavailableError:
        reason = getattr(exc, "reason", exc)
        return UnavailableError(
            f"cannot reach jinad at {self.base}: {reason}. Check: is the host right "
            f"({self.host})? is jinad running there (curl {self.base}/alive)? is port {self.port} "
            "open in its firewall? is a VPN or proxy in the way?",
            detail={"host": self.host, "port": self.port})


def _multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = bytearray()
    for field, filename, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
