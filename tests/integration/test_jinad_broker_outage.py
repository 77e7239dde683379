"""While the broker is away the edge answers at once: 503 with a message for work that needs
the broker, /alive and /health 200 (``"broker": "unreachable"``), /ready 503; all of it
back once the broker is. jinad runs against a nats-server the test stops and starts (it
keeps its port)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.fixtures.jinad import JinadNode
from tests.fixtures.nats import nats_server_factory  # noqa: F401
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.integration

QUICK_S = 2.0  # every answer while the broker is away comes within this
DUMMY = "!Flow\nversion: 1\npods:\n  - name: p\n    uses: _pass\n"


def _broker(node: JinadNode) -> str:
    return str(requests.get(f"{node.url}/alive", timeout=5).json()["broker"])


def _timed(method: str, url: str, **kwargs: Any) -> requests.Response:
    started = time.monotonic()
    r = requests.request(method, url, timeout=10, **kwargs)
    took = time.monotonic() - started
    assert took < QUICK_S, f"{method} {url} took {took:.1f} s"
    return r


def test_the_edge_while_the_broker_is_away(nats_server_factory: Any,  # noqa: F811
                                           jinad_factory: Any) -> None:
    server = nats_server_factory()
    node: JinadNode = jinad_factory(nats=server.url)
    assert requests.get(f"{node.url}/ready", timeout=5).status_code == 200
    pod_id = node.edge.create_pod({"uses": "_pass"})["pod_id"]

    server.stop()
    wait_for(lambda: _broker(node) == "unreachable", timeout_s=10,
             what="/alive to report the broker as unreachable")
    alive = _timed("GET", f"{node.url}/alive").json()
    assert alive["status_code"] == 200 and alive["mesh_size"] is None
    assert _timed("GET", f"{node.url}/health").status_code == 200
    for method, path, kwargs in [
        ("GET", "/ready", {}), ("GET", "/nodes", {}), ("GET", "/flows", {}),
        ("GET", f"/pod/{pod_id}", {}), ("PUT", "/pod", {"json": {"uses": "_pass"}}),
        ("PUT", f"/pod/{pod_id}/lease", {}), ("DELETE", f"/pod?pod_id={pod_id}", {}),
        ("GET", f"/logs/{pod_id}", {}), ("POST", "/ports", {"json": {"count": 1}}),
    ]:
        r = _timed(method, f"{node.url}{path}", **kwargs)
        assert r.status_code == 503, (method, path, r.status_code, r.text)
        body = r.json()
        assert body["error"] == "UnavailableError" and "broker" in body["message"], body
        assert body["detail"]["broker"] == "unreachable"
    started = time.monotonic()
    r = upload(node, DUMMY, timeout_s=10)
    assert r.status_code == 503 and time.monotonic() - started < QUICK_S, r.text

    server.start()  # the same port: the node reconnects by itself
    wait_for(lambda: requests.get(f"{node.url}/ready", timeout=5).status_code == 200,
             timeout_s=20, what="/ready once the broker is back")
    assert _broker(node) == "connected"
    assert requests.get(f"{node.url}/pod/{pod_id}", timeout=5).json()["status"] == "running"
    node.edge.delete_pod(pod_id)
    assert_clean(node)
