"""``GET /events/{flow_id}``: a Flow's lifecycle events as server-sent events, replayed from
the first, followed with ``?follow=1`` until the Flow is deleted; documented in the OpenAPI
document; an unknown id is a 404 envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_node")]

DUMMY = (Path(__file__).parents[2] / "examples" / "dummy_flow.yml").read_text()
PODS = ("gateway", "pod0", "pod1")


def _events(node: JinadNode, flow_id: str) -> list[dict[str, Any]]:
    r = requests.get(f"{node.url}/events/{flow_id}", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = [c for c in r.text.split("\n\n") if c]
    assert all(c.startswith("data: {") for c in chunks), chunks
    return [orjson.loads(c[6:]) for c in chunks]


def _kinds(events: list[dict[str, Any]], pod: str) -> list[str]:
    return [e["kind"] for e in events if e["pod"] == pod]


def test_replay_then_follow_until_deleted(node: JinadNode) -> None:
    flow_id = put_flow(node, DUMMY)["flow_id"]
    events = wait_for(lambda: (ev := _events(node, flow_id)) and all(
        _kinds(ev, p) == ["started", "ready"] for p in PODS) and ev,
        timeout_s=20, what="started and ready of every pod in GET /events")
    first = events[0]
    assert first["type"] == "lifecycle.v1" and first["flow"] == flow_id
    assert {"flow", "pod", "pea", "node", "kind", "time"} <= set(first)
    assert {e["node"] for e in events} == {node.name}

    with requests.get(f"{node.url}/events/{flow_id}", params={"follow": "1"}, stream=True,
                      timeout=30) as followed:
        assert followed.status_code == 200
        lines = followed.iter_lines()
        replayed = [orjson.loads(next(ln for ln in lines if ln.startswith(b"data: "))[6:])
                    for _ in events]
        assert replayed == events  # the same history first
        node.edge.delete_flow(flow_id)
        after = [orjson.loads(ln[6:]) for ln in lines if ln.startswith(b"data: ")]  # ends at delete
    assert {(e["pod"], e["kind"]) for e in after} >= {(p, "stopped") for p in PODS}

    # a deleted flow's events stay for a post-mortem read, which ends by itself
    assert all(_kinds(_events(node, flow_id), p) == ["started", "ready", "stopped"] for p in PODS)


def test_unknown_flow_is_a_404_envelope(node: JinadNode) -> None:
    r = requests.get(f"{node.url}/events/nosuchflow", timeout=10)
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["error"] == "NotFoundError" and body["detail"] == {"flow_id": "nosuchflow"}
    assert body["status_code"] == 404


def test_documented_in_openapi(node: JinadNode) -> None:
    doc = requests.get(f"{node.url}/docs/openapi.json", timeout=10).json()
    op = doc["paths"]["/events/{flow_id}"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert {"404", "503"} <= set(op["responses"])
    assert [p["name"] for p in op["parameters"]] == ["flow_id", "follow"]
