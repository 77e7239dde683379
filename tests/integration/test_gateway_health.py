"""The gateway's HTTP GET /health: the readiness of every pod of its Flow, asked of each Pea's
control socket; a pod whose Pea is gone is ``unreachable`` and the answer a 503."""

from __future__ import annotations

import os
import signal

import pytest
import requests

from mesh import Flow
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration


def _health(flow: Flow) -> tuple[int, dict[str, object]]:
    r = requests.get(f"http://127.0.0.1:{flow.port_http}/health", timeout=10)
    return r.status_code, r.json()


def test_health_names_each_pod_and_a_dead_one() -> None:
    flow = Flow().add(name="a").add(name="b", replicas=2)
    with flow:
        assert _health(flow) == (200, {"status": "ready", "pods": {"a": "ready", "b": "ready"}})
        victim = next(p for p in flow._runner.peas if p.name == "b/1")  # type: ignore[union-attr]
        assert victim.pid is not None
        os.killpg(victim.pid, signal.SIGKILL)
        status, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(_health(flow)),
                                timeout_s=10, what="a 503 naming pod b")
        assert body == {"status": "degraded", "pods": {"a": "ready", "b": "unreachable"}}
