"""Bad input to the edge: each gets a clear 4xx JSON body (a 5xx for a spawn that times out),
the daemon stays up, and nothing is left behind (no flow record, no Pea, no workspace)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.client.edge import EdgeClient
from mesh.errors import MeshError
from mesh.flow.flow import Flow
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
UPLOAD_LIMIT = 4096


@pytest.fixture(scope="module")
def guarded_node(jinad_module_factory: Any) -> JinadNode:
    """A node with a token and a small upload limit (from the environment, as an operator would)."""
    return jinad_module_factory(token=TOKEN, env={"JINAD_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)})


@pytest.fixture
def guarded(guarded_node: JinadNode) -> Iterator[JinadNode]:
    yield guarded_node
    assert_clean(guarded_node)


@pytest.fixture(autouse=True)
def clean(node: JinadNode) -> Iterator[None]:
    yield
    assert_clean(node)
    workspaces = node.state_dir / "workspace"
    assert not workspaces.exists() or not any(workspaces.iterdir()), list(workspaces.iterdir())


def _error(r: requests.Response, status: int | tuple[int, ...], *words: str) -> dict[str, Any]:
    """The response is JSON ``{error, message, detail}`` with ``status`` and names ``words``."""
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, f"{r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert "detail" in body
    for word in words:
        assert word in body["message"], f"{word!r} not in {body['message']!r}"
    return dict(body)


def _flow(*pod_lines: str) -> str:
    return "!Flow\nversion: 1\npods:\n" + "".join(f"  {line}\n" for line in pod_lines)


# -- uploads that are not a Flow ----------------------------------------------------------------
def test_no_yamlspec_field(node: JinadNode) -> None:
    r = requests.put(f"{node.url}/flow/yaml", files=[("other", ("x.yml", b"pods: []"))], timeout=10)
    _error(r, 400, "yamlspec")
    _error(requests.put(f"{node.url}/flow/yaml", timeout=10), 400, "yamlspec")


def test_empty_file(node: JinadNode) -> None:
    _error(upload(node, b""), 400, "empty")
    _error(upload(node, b"  \n\n"), 400, "empty")


def test_binary_garbage(node: JinadNode) -> None:
    _error(upload(node, bytes(range(256)) * 8), 400, "UTF-8")


def test_yaml_syntax_error(node: JinadNode) -> None:
    body = _error(upload(node, "!Flow\npods: [\n  - a: b: c\n"), 400, "not valid YAML")
    assert "line" in body["message"]


@pytest.mark.parametrize("text", ["foo: 1\nbar: [1, 2]\n", "- 1\n- 2\n", "just a string\n",
                                  "!Executor\nwith: {}\n"])
def test_yaml_that_is_not_a_flow(node: JinadNode, text: str) -> None:
    _error(upload(node, text), 400, "not a Flow YAML")


def test_unknown_key_in_a_pod(node: JinadNode) -> None:
    body = _error(upload(node, _flow("- name: p", "  uses: _pass", "  replics: 2")), 400, "replics")
    assert "replicas" in body["message"]  # did you mean


# -- executors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("uses, words", [
    ("_nope", ("'p'", "_nope", "built-in")),
    ("no.such:Thing", ("'p'", "no.such")),
    ("NoSuchExecutor", ("'p'", "NoSuchExecutor")),
    ("missing/exec.yml", ("'p'", "missing/exec.yml")),
])
def test_unknown_executor(node: JinadNode, uses: str, words: tuple[str, ...]) -> None:
    body = _error(upload(node, _flow("- name: p", f"  uses: {uses}")), 400, *words)
    assert body["detail"].get("pod") == "p"


def test_unknown_executor_in_uses_before(node: JinadNode) -> None:
    text = _flow("- name: p", "  uses: _pass", "  replicas: 2", "  uses_before: _nope")
    body = _error(upload(node, text), 400, "'p'", "_nope")
    assert body["detail"].get("pod") == "p"


def test_executor_class_missing_from_an_uploaded_module(node: JinadNode) -> None:
    """The module is there but has no such class: found only where the Pea starts."""
    r = upload(node, _flow("- name: p", "  uses: mine:Missing"), {"mine.py": b"X = 1\n"})
    body = _error(r, 400, "'p'", "Missing")
    assert body["detail"].get("pod") == "p"


def test_executor_yaml_naming_a_missing_py_module(node: JinadNode) -> None:
    files = {"exec/my.yml": b"!MyExec\nmetas:\n  py_modules:\n    - my.py\n"}
    _error(upload(node, _flow("- name: p", "  uses: exec/my.yml"), files), 400, "'p'", "my.py")


SLOW_PY = b"""\
import time
from mesh import Executor


class Slow(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        time.sleep(3)
"""


def test_spawn_that_times_out(node: JinadNode) -> None:
    text = _flow("- name: sleepy", "  uses: slow:Slow", "  timeout_ready_s: 0.5")
    body = _error(upload(node, text, {"slow.py": SLOW_PY}), 504, "'sleepy'", "0.5 s")
    assert body["detail"].get("pod") == "sleepy"
    assert not pea_pids_of(node.proc.pid)


def test_executor_that_raises_in_its_constructor(node: JinadNode) -> None:
    """The user's own code failing is not a bad request: 500, with the exception's text."""
    files = {"boom.py": b"from mesh import Executor\nclass Boom(Executor):\n"
                        b"    def __init__(self, **kw):\n        raise RuntimeError('kaboom')\n"}
    body = _error(upload(node, _flow("- name: p", "  uses: boom:Boom"), files), 500, "'p'", "kaboom")
    assert body["detail"].get("pod") == "p"


# -- placement ----------------------------------------------------------------------------------
def test_pod_on_a_node_that_does_not_exist(node: JinadNode) -> None:
    body = _error(upload(node, _flow("- name: p", "  uses: _pass", "  host: nosuchnode")), 400,
                  "nosuchnode", node.name)
    assert body["detail"] == {"pod": "p", "host": "nosuchnode"}


def test_labels_no_node_has(node: JinadNode) -> None:
    """A Flow no node of the mesh can hold now: a 409 (a conflict with the mesh, not bad input)."""
    text = _flow("- name: p", "  uses: _pass", "  labels: {gpu: 'yes'}")
    _error(upload(node, text), 409, "'p'", "gpu=yes")


def test_one_bad_pod_stops_the_good_ones(node: JinadNode) -> None:
    """All or nothing: pods that started are stopped when another one fails."""
    text = _flow("- name: good", "  uses: _logforward", "- name: bad", "  uses: boom:Boom")
    files = {"boom.py": b"raise ImportError('broken module')\n"}
    body = _error(upload(node, text, files), 400, "'bad'", "broken module")
    assert body["detail"]["pod"] == "bad"


# -- ids ----------------------------------------------------------------------------------------
def test_unknown_flow_id(node: JinadNode) -> None:
    _error(requests.get(f"{node.url}/flow/no-such-flow", timeout=5), 404, "no-such-flow")
    _error(requests.delete(f"{node.url}/flow", params={"flow_id": "no-such-flow"}, timeout=5), 404,
           "no-such-flow")
    _error(requests.get(f"{node.url}/logs/no-such-flow", timeout=5), 404, "no-such-flow")
    _error(requests.get(f"{node.url}/logs/a.b*c", timeout=5), 404, "a.b*c")
    _error(requests.get(f"{node.url}/flow/a.b*c", timeout=5), 404, "a.b*c")
    _error(requests.get(f"{node.url}/pod/no-such-pod", timeout=5), 404, "no-such-pod")


def test_delete_without_flow_id(node: JinadNode) -> None:
    _error(requests.delete(f"{node.url}/flow", timeout=5), 400, "flow_id")
    _error(requests.delete(f"{node.url}/pod", timeout=5), 400, "pod_id")


def test_unknown_route(node: JinadNode) -> None:
    _error(requests.get(f"{node.url}/flows/extra/path", timeout=5), 404, "/flows/extra/path")


# -- malicious or malformed ---------------------------------------------------------------------
def test_python_object_tag_is_refused_and_not_run(node: JinadNode, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = _flow("- name: p", f"  uses: !!python/object/apply:os.system ['touch {marker}']")
    _error(upload(node, text), 400, "python/object")
    text = f"!!python/object/apply:os.system ['touch {marker}']\n"
    _error(upload(node, text), 400)
    assert not marker.exists()


def test_python_tag_in_an_uploaded_executor_yaml(node: JinadNode, tmp_path: Path) -> None:
    marker = tmp_path / "pwned2"
    files = {"exec/my.yml": f"!!python/object/apply:os.system ['touch {marker}']\n".encode()}
    _error(upload(node, _flow("- name: p", "  uses: exec/my.yml"), files), 400, "'p'")
    assert not marker.exists()


BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}' if p else '1'] * 9)}]\n"
               for p, a in zip(["", *"abcdefgh"], "abcdefghi"))  # 9**9 values once expanded


def test_yaml_alias_bomb_is_refused_quickly(node: JinadNode) -> None:
    started = time.monotonic()
    _error(upload(node, BOMB, timeout_s=10), 400, "aliases")
    _error(upload(node, "!Flow\npods:\n  - name: p\n    uses: _pass\n    uses_with:\n"
                        + "".join(f"      {line}" for line in BOMB.splitlines(True)), timeout_s=10),
           400, "aliases")
    assert time.monotonic() - started < 5
    files = {"exec/my.yml": ("!MyExec\nwith:\n" + "".join(f"  {ln}" for ln in BOMB.splitlines(True))).encode()}
    _error(upload(node, _flow("- name: p", "  uses: exec/my.yml"), files, timeout_s=10), 400,
           "'p'", "aliases")


def test_deeply_nested_yaml(node: JinadNode) -> None:
    _error(upload(node, "[" * 5000 + "]" * 5000, timeout_s=10), 400, "nests deeper")


def test_more_replicas_than_ports(node: JinadNode) -> None:
    _error(upload(node, _flow("- name: p", "  uses: _pass", "  replicas: 100000")), 400,
           "replicas", "ports")
    _error(requests.put(f"{node.url}/pod", json={"uses": "_pass", "replicas": 100000}, timeout=5),
           400, "replicas")


@pytest.mark.parametrize("name", ["../evil.py", "exec/../../evil.py", "/etc/evil.py", ".."])
def test_upload_path_leaving_its_folder(node: JinadNode, name: str) -> None:
    r = upload(node, _flow("- name: p", "  uses: _pass"), {name: b"X = 1\n"})
    _error(r, 400, "upload path")
    assert not (node.state_dir / "evil.py").exists() and not (node.state_dir.parent / "evil.py").exists()


def test_malformed_json_to_put_pod(node: JinadNode) -> None:
    url = f"{node.url}/pod"
    _error(requests.put(url, data=b"{not json", headers={"Content-Type": "application/json"},
                        timeout=5), 400, "JSON")
    _error(requests.put(url, json=[1, 2], timeout=5), 400, "JSON object")
    _error(requests.put(url, json={"uses": "_pass", "replicas": "many"}, timeout=5), 400, "replicas")
    _error(requests.put(url, json={"uses": "_nope"}, timeout=5), 400, "_nope")
    _error(requests.put(url, json={"uses": "no.such:Thing"}, timeout=5), 400, "no.such")
    _error(requests.post(f"{node.url}/ports", json={"count": 100000}, timeout=5), 400, "count")


def test_non_json_body_to_ports(node: JinadNode) -> None:
    _error(requests.post(f"{node.url}/ports", data=b"\xff\xfe", timeout=5), 400)


# -- values out of range, duplicates, malformed requests -------------------------------------
@pytest.mark.parametrize("lease_s", ["0", "-1", "inf", "nan", "86401", "1e400"])
def test_a_lease_out_of_range_is_400_and_the_pod_keeps_running(node: JinadNode, lease_s: str) -> None:
    pod_id = node.edge.create_pod({"uses": "_pass"})["pod_id"]
    try:
        r = requests.put(f"{node.url}/pod/{pod_id}/lease", params={"lease_s": lease_s}, timeout=10)
        _error(r, 400, "lease_s")
        assert "Infinity" not in r.text and "NaN" not in r.text
        assert node.edge._call("GET", f"/pod/{pod_id}")["status"] == "running"
        assert len(pea_pids_of(node.proc.pid)) == 1
    finally:
        node.edge.delete_pod(pod_id)


@pytest.mark.parametrize(("payload", "words"), [
    ({"uses": "_pass", "peas": []}, ("peas", "at least 1")),
    ({"uses": "_pass", "lease_s": 86401}, ("lease_s", "86400")),
    ({"uses": "_pass", "replicas": "2"}, ("replicas", "integer")),
    ({"uses": "_pass", "lease": 0}, ("lease", "boolean")),
    ({"uses": "_pass", "env": {"A=B": "1"}}, ("env", "'A=B'")),
    ({"uses": "_pass", "env": {"A": "x\u0000y"}}, ("env", "NUL")),
    ({"uses": "_pass", "timeout_ready_s": 1e9}, ("timeout_ready_s",)),
])
def test_a_pod_no_node_could_start_is_400(node: JinadNode, payload: dict[str, Any],
                                          words: tuple[str, ...]) -> None:
    _error(requests.put(f"{node.url}/pod", json=payload, timeout=10), 400, *words)
    assert not pea_pids_of(node.proc.pid)


def test_json_that_is_not_strict_json_is_400(node: JinadNode) -> None:
    for raw in (b'{"uses": "_pass", "timeout_ready_s": NaN}', b'{"uses": "_pass", "x": Infinity}',
                b'{"uses": "\\ud800"}'):
        r = requests.put(f"{node.url}/pod", data=raw, headers={"Content-Type": "application/json"},
                         timeout=10)
        _error(r, 400, "JSON")


def test_a_pod_id_in_use_is_409_and_the_pod_stays(node: JinadNode) -> None:
    pod_id = node.edge.create_pod({"uses": "_pass"})["pod_id"]
    try:
        body = _error(requests.put(f"{node.url}/pod", json={"uses": "_pass", "pod_id": pod_id},
                                   timeout=10), 409, pod_id)
        assert body["detail"] == {"pod_id": pod_id}
        assert node.edge._call("GET", f"/pod/{pod_id}")["status"] == "running"
        assert len(pea_pids_of(node.proc.pid)) == 1
    finally:
        node.edge.delete_pod(pod_id)


def test_a_100_kb_header_is_431(node: JinadNode) -> None:
    r = requests.get(f"{node.url}/alive", headers={"X-Big": "a" * 100_000}, timeout=10)
    body = _error(r, 431, "headers", "limit")
    assert "upload" not in body["message"]


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PATCH", "/flow/yaml", "PUT"), ("TRACE", "/flow/some-id", "GET"),
    ("POST", "/pod/some-id/lease", "PUT"), ("PUT", "/alive", "GET"),
])
def test_a_method_a_path_does_not_take_is_405_with_allow(node: JinadNode, method: str, path: str,
                                                         allow: str) -> None:
    r = requests.request(method, f"{node.url}{path}", timeout=10)
    _error(r, 405, method, allow)
    assert allow in r.headers["allow"].split(", "), r.headers


@pytest.mark.parametrize(("headers", "data", "words"), [
    ({"Content-Type": "multipart/form-data"}, b"--x\r\n", ("multipart/form-data",)),
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x\r\nno header colon\r\n\r\nv\r\n--x--\r\n",
     ("multipart",)),
    ({"Content-Type": "application/json"}, b"{}", ("multipart/form-data",)),
])
def test_an_upload_that_is_not_multipart(node: JinadNode, headers: dict[str, str], data: bytes,
                                         words: tuple[str, ...]) -> None:
    _error(requests.put(f"{node.url}/flow/yaml", data=data, headers=headers, timeout=10), 400, *words)
    assert "Failed when parsing form" not in node.log()


# -- access and limits (the guarded node) -------------------------------------------------------
def test_upload_over_the_size_limit(guarded: JinadNode) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = b"# padding\n" * (UPLOAD_LIMIT // 5)
    r = upload(guarded, _flow("- name: p", "  uses: _pass"), {"big.py": big}, headers=auth)
    _error(r, 413, str(UPLOAD_LIMIT))
    r = upload(guarded, _flow("- name: p", "  uses: _pass") + "#" * UPLOAD_LIMIT, headers=auth)
    _error(r, 413, str(UPLOAD_LIMIT))
    huge = b"x" * (2 * 1024 * 1024)  # refused by the server before the body is read
    r = upload(guarded, _flow("- name: p", "  uses: _pass"), {"huge.bin": huge}, headers=auth)
    _error(r, 413, str(UPLOAD_LIMIT))
    ok = upload(guarded, _flow("- name: p", "  uses: _pass"), {"small.py": b"X = 1\n"}, headers=auth)
    assert ok.status_code == 200, ok.text
    EdgeClient(guarded.host, guarded.port, token=TOKEN).delete_flow(ok.json()["flow_id"])
    assert not pea_pids_of(guarded.proc.pid)


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_wrong_or_missing_token(guarded: JinadNode, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for method, path in [("GET", "/nodes"), ("GET", "/flows"), ("GET", "/flow/x"),
                         ("DELETE", "/flow?flow_id=x"), ("PUT", "/pod"), ("POST", "/ports"),
                         ("GET", "/logs/x"), ("PUT", "/flow/yaml")]:
        r = requests.request(method, f"{guarded.url}{path}", headers=headers, timeout=5)
        _error(r, 401, "token")
    alive = requests.get(f"{guarded.url}/alive", headers=headers, timeout=5)
    assert alive.status_code == 200 and alive.json()["status_code"] == 200


def test_token_through_the_edge_client_and_the_flow_api(guarded: JinadNode) -> None:
    with pytest.raises(MeshError) as info:
        EdgeClient(guarded.host, guarded.port).nodes()
    assert info.value.status == 401 and "token" in info.value.message
    edge = EdgeClient(guarded.host, guarded.port, token=TOKEN)
    assert [n["name"] for n in edge.nodes()] == [guarded.name]

    f = Flow(token=TOKEN).add(uses="_pass", host=guarded.host, port_expose=guarded.port)
    with f:
        assert len(pea_pids_of(guarded.proc.pid)) == 1
        assert [d.text for r in f.index_lines(lines=["a"]) or [] for d in r.docs] == ["a"]
    assert not pea_pids_of(guarded.proc.pid)

    with pytest.raises(MeshError) as info:
        Flow().add(uses="_pass", host=guarded.host, port_expose=guarded.port).start()
    assert info.value.status == 401
