"""The remote-Flow walkthrough of the seed against a real ``jinad``: its four scripts, the
shapes of the answers, uploaded executor files, and nothing left after DELETE."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import requests

from mesh import Document
from mesh.clients import Client
from mesh.parsers import set_client_cli_parser
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.integration.jinad_support import put_flow, upload, write_files

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_node")]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DUMMY_FLOW = EXAMPLES / "dummy_flow.yml"
REQUEST_DONE = re.compile(r"<Request \w+ /index docs=1 ok>")


# -- the seed's code, pasted; only the imports are renamed (jina -> mesh) ---------------------
def create_flow(flow_url, yamlspec):
    flow_creation_api = f'{flow_url}/flow/yaml/'
    with open(yamlspec, 'rb') as f:
        files = [('yamlspec', f)]
        try:
            r = requests.put(url=flow_creation_api, files=files, timeout=10)
            if r.status_code == requests.codes.ok:
                return r.json()['flow_id']
            else:
                print('Remote Flow creation failed')
        except requests.exceptions.RequestException as ex:
            print(f'Exception raised: {ex!r}')


def get_flow_info(flow_url, flow_id):
    flow_info_api = f'{flow_url}/flow/{flow_id}'
    try:
        r = requests.get(url=flow_info_api)
        if r.status_code == requests.codes.ok:
            return str(r.json()["port"])
        else:
            print('Remote Flow info retrieval failed')
    except requests.exceptions.RequestException as ex:
        print(f'Exception raised: {ex!r}')


def send_index_request(host, port):
    print(f'index request sent to {host}:{port}')
    args = set_client_cli_parser().parse_args(
        ['--host', host, '--port-expose', str(port)])
    grpc_client = Client(args)
    grpc_client.index(
        [Document(text='hello, jina'), ], on_done=print)


def delete_flow(flow_api, flow_id):
    flow_deletion_api = f'{flow_api}/flow?flow_id={flow_id}'
    try:
        r = requests.delete(url=flow_deletion_api)
        if r.status_code == requests.codes.ok:
            print('Remote Flow deletion succeeded')
        else:
            print('Remote Flow deletion failed')
    except requests.exceptions.RequestException as ex:
        print(f'Exception raised: {ex!r}')
# ------------------------------------------------------------------------------------------------


def _example(name: str) -> ModuleType:
    path = EXAMPLES / "remote_flow" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alive_answers_like_the_original(node: JinadNode) -> None:
    body = requests.get(f"{node.url}/alive", timeout=5).json()
    assert body["status_code"] == 200
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["jina_version"])
    assert body["node"] == node.name and body["mesh_size"] == 1


def test_seed_walkthrough(node: JinadNode, capsys: pytest.CaptureFixture[str]) -> None:
    host_ip, flow_api = node.host, node.url
    flow_id = create_flow(flow_api, str(DUMMY_FLOW))
    assert flow_id, capsys.readouterr().out

    flow_port = get_flow_info(flow_api, flow_id)
    assert flow_port and flow_port.isdigit()

    send_index_request(host_ip, flow_port)
    out = capsys.readouterr().out
    assert f"index request sent to {host_ip}:{flow_port}" in out
    assert REQUEST_DONE.search(out), out
    # the Document went through both pods of the remote Flow
    lines = [r["message"] for r in node.edge.logs(flow_id, pod="pod1")]
    assert any("recv" in m and "pod0" in m for m in lines), lines

    pids = pea_pids_of(node.proc.pid)
    assert len(pids) == 3  # gateway, pod0, pod1
    delete_flow(flow_api, flow_id)
    assert "Remote Flow deletion succeeded" in capsys.readouterr().out
    assert not pea_pids_of(node.proc.pid)  # DELETE answers once every Pea has stopped
    gone = requests.get(f"{flow_api}/flow/{flow_id}", timeout=5)
    assert gone.status_code == 404 and gone.json()["error"] == "NotFoundError"
    assert requests.get(f"{flow_api}/flows", timeout=5).json()["flows"] == []


def test_example_scripts(node: JinadNode, capsys: pytest.CaptureFixture[str]) -> None:
    """The walkthrough's scripts in examples/remote_flow, as a user runs them with host and port."""
    host, port = node.host, str(node.port)
    assert _example("create_flow").main([host, port, str(DUMMY_FLOW)]) == 0
    flow_id = capsys.readouterr().out.split("flow is created: ")[1].split()[0]
    assert _example("get_flow_info").main([host, port, flow_id]) == 0
    flow_port = capsys.readouterr().out.split(f"Flow serves at {host}:")[1].split()[0]
    assert _example("send_index_request").main([host, flow_port]) == 0
    assert REQUEST_DONE.search(capsys.readouterr().out)
    assert _example("delete_flow").main([host, port, flow_id]) == 0
    assert "Remote Flow deletion succeeded" in capsys.readouterr().out
    assert requests.get(f"{node.url}/flow/{flow_id}", timeout=5).status_code == 404


def test_response_shapes(node: JinadNode) -> None:
    yaml_text = DUMMY_FLOW.read_text()
    created = put_flow(node, yaml_text)
    flow_id = created["flow_id"]
    assert created["host"] == node.host and isinstance(created["port"], int)

    info = requests.get(f"{node.url}/flow/{flow_id}", timeout=5).json()
    assert info["status_code"] == 200 and info["status"] == "running"
    assert (info["host"], info["port"]) == (created["host"], created["port"])
    assert info["yaml"] == yaml_text
    assert [p["name"] for p in info["pods"]] == ["pod0", "pod1"]
    for pod in info["pods"]:
        assert pod["node"] == node.name and pod["status"] == "running"
        assert pod["address"] == node.host and pod["uses"] == "_logforward"
        assert all(isinstance(pea["pid"], int) and pea["port_ctrl"] for pea in pod["peas"])

    only = requests.get(f"{node.url}/flow/{flow_id}", params={"yaml_only": "true"}, timeout=5)
    assert only.status_code == 200 and only.headers["content-type"].startswith("application/yaml")
    assert only.text == yaml_text

    listed = requests.get(f"{node.url}/flows", timeout=5).json()["flows"]
    assert [f["flow_id"] for f in listed] == [flow_id]

    deleted = requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=30)
    assert deleted.status_code == 200 and deleted.json()["flow_id"] == flow_id
    assert not pea_pids_of(node.proc.pid)
    gone = requests.get(f"{node.url}/flow/{flow_id}", timeout=5)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/json")
    assert set(gone.json()) >= {"error", "message"} and flow_id in gone.json()["message"]
    assert requests.get(f"{node.url}/flows", timeout=5).json()["flows"] == []


MY_EXEC_YAML = """\
!MyExec
with:
  suffix: " (seen by MyExec)"
metas:
  py_modules:
    - my.py
"""

MY_EXEC_PY = """\
from mesh import Executor, requests


class MyExec(Executor):
    def __init__(self, suffix, **kwargs):
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    def mark(self, docs):
        for doc in docs:
            doc.text += self.suffix
"""

UPLOAD_FLOW = """\
!Flow
version: 1
pods:
  - name: enc
    uses: exec/my.yml
"""


def test_uploaded_executor_files_keep_their_paths(node: JinadNode, tmp_path: Path) -> None:
    files = write_files(tmp_path, {"exec/my.yml": MY_EXEC_YAML, "exec/my.py": MY_EXEC_PY})
    created = put_flow(node, UPLOAD_FLOW, files)
    workspace = node.state_dir / "workspace" / created["flow_id"]
    assert (workspace / "exec" / "my.py").read_text() == MY_EXEC_PY

    args = set_client_cli_parser().parse_args(
        ["--host", created["host"], "--port-expose", str(created["port"])])
    with Client(args) as client:
        results = client.index([Document(text="hello")])
    assert results is not None
    assert [d.text for r in results for d in r.docs] == ["hello (seen by MyExec)"]

    node.edge.delete_flow(created["flow_id"])
    assert not workspace.exists()


def test_python_files_as_pymodules_files(node: JinadNode, tmp_path: Path) -> None:
    """``pymodules_files`` is the original's second upload field; both land in one folder."""
    yml = write_files(tmp_path, {"exec/my.yml": MY_EXEC_YAML})
    py = write_files(tmp_path, {"exec/my.py": MY_EXEC_PY})
    parts = [("yamlspec", ("flow.yml", UPLOAD_FLOW.encode()))]
    parts += [("uses_files", (k, v)) for k, v in yml.items()]
    parts += [("pymodules_files", (k, v)) for k, v in py.items()]
    r = requests.put(f"{node.url}/flow/yaml", files=parts, timeout=60)
    assert r.status_code == 200, r.text
    node.edge.delete_flow(r.json()["flow_id"])


def test_edge_client_round_trip(node: JinadNode) -> None:
    created = node.edge.create_flow(DUMMY_FLOW.read_text())
    assert node.edge.get_flow(created["flow_id"])["status"] == "running"
    assert [n["name"] for n in node.edge.nodes()] == [node.name]
    node.edge.delete_flow(created["flow_id"])
    r = upload(node, DUMMY_FLOW.read_text())  # the same YAML again: a new, independent Flow
    assert r.status_code == 200 and r.json()["flow_id"] != created["flow_id"]
    node.edge.delete_flow(r.json()["flow_id"])
