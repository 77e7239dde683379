"""The edge's OpenAPI document, and the websocket log stream with resume (``{"from": N}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import put_flow

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_node")]

DUMMY_FLOW = (Path(__file__).resolve().parents[2] / "examples" / "dummy_flow.yml").read_text()


def test_openapi_document_lists_the_api(node: JinadNode) -> None:
    doc = requests.get(f"{node.url}/docs/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/alive", "/nodes", "/flow/yaml", "/flow", "/pod", "/ports", "/logs/{flow_id}"):
        assert path in doc["paths"], path
    assert "put" in doc["paths"]["/flow/yaml"] and "delete" in doc["paths"]["/flow"]
    assert requests.get(f"{node.url}/docs", timeout=10).status_code == 200


def _read(ws: Any, want: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=10)) for _ in range(want)]


def test_websocket_replays_from_the_start_and_resumes_from_a_line(node: JinadNode) -> None:
    flow_id = put_flow(node, DUMMY_FLOW)["flow_id"]
    try:
        url = f"ws://{node.host}:{node.port}/logstream/{flow_id}"
        with connect(url) as ws:
            ws.send(json.dumps({"from": 0}))
            first = _read(ws, 4)
        assert {r["flow"] for r in first} == {flow_id}
        assert all({"time", "level", "node", "pod", "pea", "message"} <= r.keys() for r in first)
        with connect(url) as ws:
            ws.send(json.dumps({"from": 2}))  # a client that saw two lines resumes after them
            resumed = _read(ws, 2)
        assert [(r["pea"], r["message"]) for r in resumed] == \
            [(r["pea"], r["message"]) for r in first[2:4]]
    finally:
        assert requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=30).ok


def test_websocket_for_an_unknown_flow_says_so_and_closes(node: JinadNode) -> None:
    with connect(f"ws://{node.host}:{node.port}/logstream/nosuchflow") as ws:
        body = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert (body["error"], body["status_code"]) == ("NotFoundError", 404)
    assert "nosuchflow" in body["message"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
