"""A Flow end to end in real processes: the seed, custom executors, clients, callbacks, HTTP JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests as http
import zmq

from mesh import AsyncClient, Client, Document, Flow, Request
from mesh.errors import BadRequestError
from mesh.executors.dispatch import RESULTS_KEY
from mesh.runtime.control import ctrl_request
from tests.fixtures.procs import mesh_children

pytestmark = pytest.mark.integration

WORKER = "tests.integration.executors.basic:Worker"


@pytest.fixture(scope="module")
def seed() -> Iterator[Flow]:
    """The seed's Flow, shared by the tests that only need Documents to go through."""
    before = set(mesh_children())
    with Flow().add(uses="_logforward").add(uses="_logforward") as flow:
        yield flow
    assert set(mesh_children()) <= before


@pytest.fixture(scope="module")
def worker() -> Iterator[Flow]:
    """One pod running a custom executor that Peas import by import path."""
    before = set(mesh_children())
    with Flow().add(name="worker", uses=WORKER) as flow:
        yield flow
    assert set(mesh_children()) <= before


def _pid(flow: Flow, pod: str) -> int:
    return int(ctrl_request("127.0.0.1", flow.plan.pod(pod).entry.port_ctrl)["pid"])  # type: ignore[union-attr]


def test_seed_example_routes_through_both_pods() -> None:
    before = set(mesh_children())
    f = Flow().add(uses="_logforward").add(uses="_logforward")
    with f:
        results = f.index_lines(lines=["hello", "jina"])
        started = set(mesh_children()) - before
    assert len(started) == 3  # gateway, pod0, pod1
    assert not started & set(mesh_children())  # leaving `with` stops every Pea
    assert results is not None and len(results) == 1
    resp = results[0]
    assert not resp.failed
    assert resp.docs.texts == ["hello", "jina"]
    assert resp.route_str() == "gateway▸pod0▸pod1▸⚐"
    assert [e["pod"] for e in resp.route] == ["gateway", "pod0", "pod1"]
    assert all(e["start"] <= e["end"] for e in resp.route)


def test_untouched_arrays_and_nested_documents_come_back(seed: Flow) -> None:
    doc = Document(text="a", embedding=np.arange(6, dtype="float16").reshape(2, 3), tags={"k": [1]},
                   chunks=[Document(text="c", blob=np.array(7))], matches=[Document(text="m")])
    (resp,) = seed.index([doc])
    assert resp.docs[0] == doc


def test_request_size_splits_documents(seed: Flow) -> None:
    results = seed.index([Document(text=str(i)) for i in range(250)], request_size=100)
    assert results is not None
    assert sorted(r.num_docs for r in results) == [50, 100, 100]
    texts = sorted(int(t) for r in results for t in r.docs.texts)
    assert texts == list(range(250))


def test_flow_request_size_is_the_default() -> None:
    with Flow(request_size=2).add() as flow:
        results = flow.index(["a", "b", "c"])
    assert results is not None and sorted(r.num_docs for r in results) == [1, 2]


def test_callbacks_instead_of_results(worker: Flow) -> None:
    done: list[Request] = []
    errors: list[Request] = []
    always: list[Request] = []
    out = worker.post("/fail", ["ok", "bad", "fine"], request_size=1, on_done=done.append,
                      on_error=errors.append, on_always=always.append)
    assert out is None
    assert sorted(r.docs.texts[0] for r in done) == ["fine", "ok"]
    assert [r.status["pod"] for r in errors] == ["worker"]
    assert len(always) == 3


def test_custom_executor_changes_documents(worker: Flow) -> None:
    (resp,) = worker.index(["hello", "wörld"])
    assert resp.docs.texts == ["HELLO", "WÖRLD"]
    assert resp.route_str() == "gateway▸worker▸⚐"


def test_parameters_reach_the_executor(worker: Flow) -> None:
    params = {"top_k": 3, "filter": {"lang": ["en", "de"]}}
    (resp,) = worker.post("/custom", [Document(text="x")], parameters=params)
    assert resp.docs[0].tags["parameters"] == params
    assert resp.docs[0].tags["pod"] == "worker"
    assert resp.parameters == params


def test_returned_documents_and_dicts(worker: Flow) -> None:
    (replaced,) = worker.post("/replace", ["a", "b"])
    assert replaced.docs.texts == ["new a", "new b"]
    (stats,) = worker.post("/stats", ["ab", "cde"])
    assert stats.parameters[RESULTS_KEY] == {"worker": {"docs": 2, "chars": 5}}
    assert stats.docs.texts == ["ab", "cde"]


def test_failing_request_is_reported_and_the_pea_stays_up(worker: Flow) -> None:
    pid = _pid(worker, "worker")
    (failed,) = worker.post("/fail", [Document(id="d1", text="bad")])
    assert failed.failed
    assert failed.status["pod"] == "worker"
    assert failed.status["error"] == "ValueError"
    assert failed.status["message"] == "cannot handle document d1"
    assert "Traceback" in failed.status["traceback"]
    (ok,) = worker.index(["after"])
    assert not ok.failed and ok.docs.texts == ["AFTER"]
    assert _pid(worker, "worker") == pid
    assert worker.health() is None


@pytest.mark.parametrize("endpoint, error, message", [
    ("/wrong_return", "TypeError", "Worker.wrong_return returned Document"),
    ("/unencodable", "BadRequestError", "not JSON-serialisable"),
])
def test_bad_executor_output_fails_the_request_not_the_pea(worker: Flow, endpoint: str, error: str,
                                                           message: str) -> None:
    pid = _pid(worker, "worker")
    (resp,) = worker.post(endpoint, ["x"])
    assert resp.failed
    assert (resp.status["pod"], resp.status["error"]) == ("worker", error)
    assert message in resp.status["message"]
    (ok,) = worker.index(["y"])
    assert ok.docs.texts == ["Y"] and _pid(worker, "worker") == pid


def test_gateway_answers_bad_requests_and_drops_garbage(worker: Flow) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{worker.port_expose}")
    try:
        for frames in ([b"not json"], [b"[1, 2]"], [b""], [b'{"id": 5, "endpoint": "/x"}'],
                       [b'{"id": "no-endpoint"}', b"[]"],
                       [b'{"id": "bad-route", "endpoint": "/index", "route": "r"}']):
            sock.send_multipart(frames)
        answers = []
        while sock.poll(1000):  # the two with a string id are answered, as failed
            answers.append(Request.from_frames(sock.recv_multipart()))
            if len(answers) == 2:
                assert sock.poll(100) == 0  # and nothing else is
                break
    finally:
        sock.close(0)
    assert sorted(r.id for r in answers) == ["bad-route", "no-endpoint"]
    for resp in answers:
        assert resp.failed and resp.status["pod"] == "gateway"
        assert resp.status["error"] == "BadRequestError"
        assert "string 'id' and 'endpoint'" in resp.status["message"]
    (ok,) = worker.index(["still up"])  # nothing is broken by them
    assert ok.docs.texts == ["STILL UP"]
    assert worker.health() is None


def test_client_refuses_bad_arguments_before_sending(worker: Flow) -> None:
    with pytest.raises(BadRequestError, match="parameters must be a dict, not list"):
        worker.post("/custom", ["x"], parameters=[1])  # type: ignore[arg-type]
    with pytest.raises(BadRequestError, match="cannot send int as a Document"):
        worker.index([1])  # type: ignore[list-item]
    assert worker.index(["fine"])[0].docs.texts == ["FINE"]  # type: ignore[index]


def test_client_from_outside_the_flow(worker: Flow) -> None:
    with Client(host="127.0.0.1", port_expose=worker.port_expose) as client:
        seen: list[Request] = []
        assert client.index([Document(text="a"), "b"], on_done=seen.append) is None
        results = client.post("/custom", ["c"], parameters={"p": 1})
    assert seen[0].docs.texts == ["A", "B"]
    assert results is not None and results[0].docs[0].tags["parameters"] == {"p": 1}


async def test_async_client(worker: Flow) -> None:
    client = AsyncClient(host="127.0.0.1", port_expose=worker.port_expose, request_size=2)
    results = await client.index([Document(text=str(i)) for i in range(5)])
    assert results is not None and sorted(r.num_docs for r in results) == [1, 2, 2]
    done: list[Request] = []
    assert await client.post("/custom", ["x"], parameters={"a": 1}, on_done=done.append) is None
    assert done[0].docs[0].tags["parameters"] == {"a": 1}
    two = await asyncio.gather(client.index(["p"]), client.index(["q"]))
    assert [r[0].docs.texts for r in two] == [["P"], ["Q"]]  # type: ignore[index]


# -- HTTP JSON --------------------------------------------------------------------


def _http(flow: Flow, path: str, body: Any = None, *, data: bytes | None = None) -> http.Response:
    with http.Session() as session:
        return session.post(f"http://127.0.0.1:{flow.port_http}{path}", json=body, data=data, timeout=10)


def test_http_post_index_and_search(worker: Flow) -> None:
    r = _http(worker, "/post/index", {"data": [{"text": "hi", "tags": {"a": 1}}, "there"]})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert [d["text"] for d in body["data"]] == ["HI", "THERE"]
    assert body["data"][0]["tags"] == {"a": 1}
    assert body["header"]["status"] == {"code": 0}
    assert [e["pod"] for e in body["header"]["route"]] == ["gateway", "worker"]
    r = _http(worker, "/search", {"data": [{"text": "q", "embedding": [0.5, 1.5]}]})
    assert r.status_code == 200
    assert r.json()["data"][0]["embedding"] == {"dtype": "<f8", "shape": [2], "data": [0.5, 1.5]}


def test_http_parameters_and_failures(worker: Flow) -> None:
    r = _http(worker, "/post/custom", {"data": ["x"], "parameters": {"k": "v"}})
    assert r.json()["data"][0]["tags"]["parameters"] == {"k": "v"}
    failed = _http(worker, "/post/fail", {"data": ["bad"]}).json()
    assert failed["header"]["status"]["pod"] == "worker"
    assert failed["header"]["status"]["error"] == "ValueError"


@pytest.mark.parametrize("data, status, message", [
    (b"{not json", 400, "body is not JSON"),
    (b"[1, 2]", 400, "body must be a JSON object"),
    (b'{"data": 5}', 400, "'data' must be a list"),
    (b'{"data": [{"colour": "red"}]}', 400, "unknown Document fields: colour"),
    (b'{"data": ["x"], "parameters": [1]}', 400, "parameters must be a dict"),
    (b'{"data": ["x"], "request_size": "ten"}', 400, "request_size must be a positive integer"),
    (b'{"data": [{"embedding": {"data": [1], "shape": [5]}}]}', 400, "embedding is not a valid array"),
])
def test_http_bad_input_is_a_4xx_json_error(seed: Flow, data: bytes, status: int, message: str) -> None:
    r = _http(seed, "/post/index", data=data)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == "BadRequestError"
    assert message in body["message"]


def test_http_unknown_route_is_404(seed: Flow) -> None:
    r = _http(seed, "/nope", {"data": []})
    assert r.status_code == 404 and "POST /nope" in r.json()["message"]
