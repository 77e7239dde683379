"""``GET /metrics`` and ``GET /sd/prometheus`` of a real jinad with real Flows, read with
prometheus-client's own parser; ``--no-metrics``, a Flow's ``metrics: false``, the token,
and ``mesh ping`` on a gateway's control port."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import upload

pytestmark = pytest.mark.integration

TOKEN = "metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TWO_PODS = "!Flow\nversion: 1\n{with_}pods:\n  - name: one\n    uses: _pass\n  - name: two\n    uses: _pass\n"


def _flow(node: JinadNode, *, metrics: bool = True) -> dict[str, Any]:
    with_ = "" if metrics else "with:\n  metrics: false\n"
    r = upload(node, TWO_PODS.format(with_=with_), headers=AUTH if node.token else None)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _send(flow: dict[str, Any], count: int, endpoint: str = "/index") -> None:
    gw = flow["gateway"]
    for i in range(count):
        r = requests.post(f"http://{gw['host']}:{gw['port_http']}/post{endpoint}",
                          json={"data": [f"a{i}", f"b{i}", f"c{i}"]}, timeout=30)
        assert r.status_code == 200, r.text


def _samples(node: JinadNode) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = requests.get(f"{node.url}/metrics", headers=AUTH if node.token else None, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_a_nodes_metrics_count_its_peas_requests(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(token=TOKEN)
    assert requests.get(f"{node.url}/metrics", timeout=10).status_code == 401
    flow = _flow(node)
    _send(flow, 5)
    _send(flow, 2, "/search")
    got = _samples(node)
    fid = flow["flow_id"]
    for pod in ("one", "two"):
        labels = {"flow": fid, "pod": pod, "pea": pod, "node": node.name}
        assert _value(got, "mesh_pea_requests_total", endpoint="/index", **labels) == 5
        assert _value(got, "mesh_pea_requests_total", endpoint="/search", **labels) == 2
        assert _value(got, "mesh_pea_failed_requests_total", **labels) == 0
        assert _value(got, "mesh_pea_documents_total", endpoint="/index", **labels) == 15
        assert _value(got, "mesh_pea_request_duration_seconds_count", **labels) == 7
        assert _value(got, "mesh_pea_received_bytes_total", **labels) > 0
        assert _value(got, "mesh_pea_sent_bytes_total", **labels) > 0
    assert _value(got, "mesh_gateway_requests_total", flow=fid, endpoint="/index") == 5
    assert _value(got, "mesh_gateway_request_duration_seconds_bucket", flow=fid,
                  endpoint="/search", le="+Inf") == 2
    assert _value(got, "mesh_gateway_request_duration_seconds_sum", flow=fid) > 0
    assert _value(got, "mesh_peas", node=node.name, status="running") == 3
    assert _value(got, "mesh_pea_metrics_up", flow=fid) == 3
    assert _value(got, "mesh_pod_spawns_total") >= 3
    assert _value(got, "process_resident_memory_bytes") > 0
    assert _value(got, "mesh_bus_messages_handled_total") > 0
    assert ("mesh_log_records_shipped_total", frozenset()) in got

    r = requests.get(f"{node.url}/sd/prometheus", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == [{"targets": [f"127.0.0.1:{node.port}"], "labels": {
        "__meta_mesh_node": node.name, "__meta_mesh_version": r.json()[0]["labels"]["__meta_mesh_version"]}}]
    assert requests.get(f"{node.url}/sd/prometheus", timeout=10).status_code == 401


def test_a_flow_without_metrics_counts_nothing(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory()
    flow = _flow(node, metrics=False)
    _send(flow, 3)
    got = _samples(node)
    fid = flow["flow_id"]
    assert _value(got, "mesh_pea_metrics_up", flow=fid) == 3  # the Peas answer, with no figures
    assert not [k for k in got if k[0].startswith(("mesh_pea_requests", "mesh_gateway_requests"))]


def test_no_metrics_is_a_404(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(extra=["--no-metrics"])
    r = requests.get(f"{node.url}/metrics", timeout=10)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NotFoundError"
    assert [t["targets"] for t in requests.get(f"{node.url}/sd/prometheus", timeout=10).json()] == [
        [f"127.0.0.1:{node.port}"]]


def test_mesh_ping_answers_on_a_gateways_control_port(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory()
    gw = _flow(node)["gateway"]
    out = subprocess.run([sys.executable, "-m", "mesh.cli.main", "ping", gw["host"],
                          str(gw["port_ctrl"]), "--retries", "2"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "avg. latency" in out.stdout
