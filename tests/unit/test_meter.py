"""A Pea's plain counters and the node's view of them in Prometheus terms."""

from __future__ import annotations

import pytest

from mesh.agents.metrics import _cumulative
from mesh.events.models import NodeInfo
from mesh.http.routes.metrics import sd_targets
from mesh.runtime.meter import BUCKETS_S, MAX_ENDPOINTS, OTHER, Meter

pytestmark = pytest.mark.unit


def test_the_meter_counts_by_endpoint_into_buckets() -> None:
    meter = Meter()
    meter.observe("/a", 0.0004, failed=False, bytes_in=10, bytes_out=20, docs=3)
    meter.observe("/a", 0.003, failed=True, bytes_in=1, bytes_out=2, docs=0)
    meter.observe("/a", 99.0, failed=False, bytes_in=0, bytes_out=0, docs=1)
    row = meter.snapshot()["endpoints"]["/a"]
    assert (row["requests"], row["failed"], row["bytes_in"], row["bytes_out"], row["docs"]) == (3, 1, 11, 22, 4)
    assert row["seconds_sum"] == pytest.approx(99.0034)
    assert row["buckets"][0] == 1 and row["buckets"][BUCKETS_S.index(0.005)] == 1
    assert row["buckets"][-1] == 1  # past the last bound: +Inf
    assert [c for _, c in _cumulative(list(BUCKETS_S), row["buckets"])][-1] == 3
    assert _cumulative([0.1, 1.0], [1, 0, 2]) == [("0.1", 1.0), ("1.0", 1.0), ("+Inf", 3.0)]


def test_endpoints_past_the_limit_count_as_other() -> None:
    meter = Meter()
    for i in range(MAX_ENDPOINTS + 10):
        meter.observe(f"/e{i}", 0.001, failed=False, bytes_in=0, bytes_out=0, docs=0)
    endpoints = meter.snapshot()["endpoints"]
    assert len(endpoints) == MAX_ENDPOINTS + 1
    assert endpoints[OTHER]["requests"] == 10


def _node(name: str, address: str, port: int, **labels: str) -> NodeInfo:
    return NodeInfo(name=name, address=address, port=port, labels=labels, cpu_count=2, load1=0.1,
                    mem_total_mb=1, mem_available_mb=1, version="1.2.3", started=0.0, heartbeat=0.0)


def test_service_discovery_names_every_node_with_meta_labels() -> None:
    targets = sd_targets([_node("b", "::1", 81), _node("a", "10.0.0.1", 80, **{"zone-x": "eu"})])
    assert targets == [
        {"targets": ["10.0.0.1:80"], "labels": {"__meta_mesh_node": "a", "__meta_mesh_version": "1.2.3",
                                               "__meta_mesh_label_zone_x": "eu"}},
        {"targets": ["[::1]:81"], "labels": {"__meta_mesh_node": "b", "__meta_mesh_version": "1.2.3"}},
    ]
