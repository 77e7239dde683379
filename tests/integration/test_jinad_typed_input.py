"""A typed edge: bodies and query strings of the wrong type are 400s whose message names the
field (they were 500s), the daemon stays up; and jinad's settings reach a real daemon from
its flags and its environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mesh.scheduler.deployer import MAX_PORTS
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.integration

PEA: dict[str, Any] = {"kind": "pea", "name": "p", "pod": "p", "port_ctrl": 5}


@pytest.fixture
def clean(node: JinadNode) -> Iterator[JinadNode]:
    yield node
    assert_clean(node)  # still up, nothing recorded, no Pea


def _bad(r: requests.Response, field: str, words: str) -> dict[str, Any]:
    """A 400 with the JSON error envelope, its message naming ``field``."""
    assert r.status_code == 400, f"{r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error", "message", "detail", "status_code"} and body["status_code"] == 400
    assert f"{field}: {words}" in body["message"], body["message"]
    return dict(body)


@pytest.mark.parametrize(("extra", "field", "words"), [
    ({"lease_s": "abc"}, "lease_s", "Input should be a valid number"),
    ({"lease_s": -1}, "lease_s", "Input should be greater than 0"),
    ({"pod_id": {"a": 1}}, "pod_id", "Input should be a valid string"),
    ({"pod_id": "a.b"}, "pod_id", "Value error, id 'a.b' must be letters"),
    ({"peas": "x"}, "peas", "Input should be a valid list"),
    ({"port_ctrl": "abc"}, "port_ctrl", "Input should be a valid integer"),
    ({"peas": [{**PEA, "port_ctrl": "abc"}]}, "peas.0.port_ctrl", "Input should be a valid integer"),
    ({"peas": [{**PEA, "inputs": ["x"]}]}, "peas.0.inputs.0", "Input should be a dictionary"),
    ({"peas": [{**PEA, "kind": "robot"}]}, "peas.0", "Value error, kind must be"),
])
def test_put_pod_with_a_wrong_type(clean: JinadNode, extra: dict[str, Any], field: str,
                                   words: str) -> None:
    body = _bad(requests.put(f"{clean.url}/pod", json={"uses": "_pass", **extra}, timeout=10),
                field, words)
    assert body["detail"]["errors"][0]["field"] == field
    assert not pea_pids_of(clean.proc.pid)


def test_put_pod_with_a_socket_entry_no_pea_takes(clean: JinadNode) -> None:
    """Well-typed, but not a socket's field: the Pea configuration is refused, not a 500."""
    pea = {**PEA, "inputs": [{"mode": "bind", "port": 5, "bogus": 1}]}
    r = requests.put(f"{clean.url}/pod", json={"uses": "_pass", "peas": [pea]}, timeout=10)
    assert r.status_code == 400, r.text
    assert "invalid Pea configuration" in r.json()["message"] and "bogus" in r.json()["message"]


def test_renew_a_lease_with_a_wrong_type(clean: JinadNode) -> None:
    r = requests.put(f"{clean.url}/pod/some-pod/lease", params={"lease_s": "abc"}, timeout=10)
    _bad(r, "lease_s", "Input should be a valid number")


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"count": "many"}, "count", "Input should be a valid integer"),
    ({"count": MAX_PORTS + 1}, "count", f"Input should be less than or equal to {MAX_PORTS}"),
    ({"count": 0}, "count", "Input should be greater than or equal to 1"),
    ({"host": 5}, "host", "Input should be a valid string"),
    ({"cnt": 2}, "cnt", "Extra inputs are not permitted"),
])
def test_reserve_ports_with_a_wrong_type(clean: JinadNode, payload: dict[str, Any], field: str,
                                         words: str) -> None:
    _bad(requests.post(f"{clean.url}/ports", json=payload, timeout=10), field, words)


@pytest.mark.parametrize(("method", "path", "params", "field", "words"), [
    ("GET", "/flow/some-flow", {"yaml_only": "maybe"}, "yaml_only", "Input should be a valid boolean"),
    ("GET", "/logs/some-flow", {"follow": "maybe"}, "follow", "Input should be a valid boolean"),
    ("GET", "/logs/some-flow", {"pod": "a.b"}, "pod", "Value error"),
    ("DELETE", "/flow", {"flow_id": ""}, "flow_id", "Value error, id '' must be"),
    ("DELETE", "/flow", {}, "flow_id", "Field required"),
    ("GET", "/logs/some-flow", {"pod": ""}, "pod", "Value error, pod name '' must be"),
    ("DELETE", "/pod", {}, "pod_id", "Field required"),
    ("DELETE", "/pod", {"pod_id": "../x"}, "pod_id", "Value error, id '../x' must be"),
])
def test_query_string_with_a_wrong_type(clean: JinadNode, method: str, path: str,
                                        params: dict[str, str], field: str, words: str) -> None:
    r = requests.request(method, f"{clean.url}{path}", params=params, timeout=10)
    _bad(r, field, words)


def test_the_openapi_document_shows_the_models(clean: JinadNode) -> None:
    doc = requests.get(f"{clean.url}/docs/openapi.json", timeout=10).json()
    pod = doc["components"]["schemas"]["PodRequest"]["properties"]
    assert {"uses", "replicas", "pod_id", "peas", "lease_s", "lease"} <= set(pod)
    ports = doc["components"]["schemas"]["PortsBody"]["properties"]
    assert ports["count"]["maximum"] == MAX_PORTS
    lease = doc["paths"]["/pod/{pod_id}/lease"]["put"]["parameters"]
    assert {p["name"]: p["schema"]["type"] for p in lease if p["in"] == "query"} == {"lease_s": "number"}
    logs = doc["paths"]["/logs/{flow_id}"]["get"]["parameters"]
    assert {p["name"] for p in logs if p["in"] == "query"} == {"pod", "follow"}


def test_websocket_with_a_bad_first_message(clean: JinadNode) -> None:
    pod_id = clean.edge.create_pod({"uses": "_pass"})["pod_id"]
    try:
        with connect(f"ws://{clean.host}:{clean.port}/logstream/{pod_id}") as ws:
            ws.send(json.dumps({"from": "the start"}))
            body = json.loads(ws.recv(timeout=10))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
    finally:
        clean.edge.delete_pod(pod_id)
    assert (body["error"], body["status_code"]) == ("BadRequestError", 400)
    assert "from: Input should be a valid integer" in body["message"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


# -- settings reach a real daemon -------------------------------------------------------------
SLOW_PY = b"""\
import time
from mesh import Executor


class Slow(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        time.sleep(3)
"""


def _gone(node: JinadNode, pod_id: str) -> bool:
    return requests.get(f"{node.url}/pod/{pod_id}", timeout=5).status_code == 404


def test_flags_and_environment_reach_the_daemon(jinad_factory: Any) -> None:
    """JINAD_LOG_LEVEL from the environment, --lease-s and --ready-timeout-s from flags (the
    flag wins over JINAD_READY_TIMEOUT_S): each one changes what the daemon does."""
    node = jinad_factory(extra=["--lease-s", "1.5", "--ready-timeout-s", "0.5"],
                         env={"JINAD_LOG_LEVEL": "debug", "JINAD_READY_TIMEOUT_S": "100"})
    assert any("[D]:" in line for line in node.log().splitlines()), node.log()[-2000:]

    # the node's default ready deadline, for a pod whose YAML sets none
    r = upload(node, "!Flow\nversion: 1\npods:\n  - name: sleepy\n    uses: slow:Slow\n",
               {"slow.py": SLOW_PY})
    assert r.status_code == 504 and "0.5 s" in r.json()["message"], r.text

    # the node's default lease: asked for without a length, and renewed without one
    leased = node.edge.create_pod({"uses": "_pass", "lease": True})["pod_id"]
    kept = node.edge.create_pod({"uses": "_pass"})["pod_id"]
    wait_for(lambda: _gone(node, leased), timeout_s=15, what="the leased pod to expire")
    assert not _gone(node, kept)
    renewed = requests.put(f"{node.url}/pod/{kept}/lease", timeout=10)
    assert renewed.status_code == 200 and renewed.json()["lease_s"] == 1.5, renewed.text
    wait_for(lambda: _gone(node, kept), timeout_s=15, what="the renewed pod to expire")
    assert_clean(node)
