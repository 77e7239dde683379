"""``mesh export compose``, run for real: the exported file is brought up with docker-compose on
the project image, a request through the published gateway reaches both pods' executors in
their containers, and ``down -v`` leaves no container, network or volume of the project."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.cli.main import main
from mesh.net.ports import free_port
from tests.container.support import IMAGE, write_tagger
from tests.fixtures.docker import compose_command, of_compose_project
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.container

FLOW = """\
!Flow
version: 1
with:
  port_expose: {expose}
  port_http: {http}
pods:
  - name: first
    uses: exec/upper.yml
    replicas: 2
  - name: second
    uses: exec/tagger.yml
"""
UPPER_PY = """\
from mesh import Executor, requests


class Upper(Executor):
    @requests
    def upper(self, docs):
        for doc in docs:
            doc.text = doc.text.upper()
"""


class Exported:
    def __init__(self, folder: Path, project: str, http_port: int) -> None:
        self.folder, self.project, self.http_port = folder, project, http_port

    def compose(self, *args: str, timeout_s: float = 120) -> str:
        proc = subprocess.run([*compose_command(), "-f", "compose.yml", "-p", self.project, *args],
                              cwd=self.folder, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"compose {' '.join(args)} exited {proc.returncode}:\n{out}"
        return out


@pytest.fixture
def exported(docker_engine: Any, tmp_path: Path) -> Iterator[Exported]:
    write_tagger(tmp_path / "exec")
    (tmp_path / "exec" / "upper.py").write_text(UPPER_PY)
    (tmp_path / "exec" / "upper.yml").write_text("!Upper\nmetas:\n  py_modules:\n    - upper.py\n")
    http_port = free_port()
    (tmp_path / "flow.yml").write_text(FLOW.format(expose=free_port(), http=http_port))
    assert main(["export", "compose", str(tmp_path / "flow.yml"), "-o",
                 str(tmp_path / "compose.yml"), "--image", IMAGE,
                 "--publish-host", "127.0.0.1"]) == 0
    os.chmod(tmp_path, 0o755)  # the containers' user reads the mounted folder
    stack = Exported(tmp_path, f"meshexport{secrets.token_hex(4)}", http_port)
    try:
        stack.compose("up", "-d", "--no-build")
        yield stack
    finally:
        try:
            stack.compose("down", "-v", "--remove-orphans", "-t", "10")
        finally:
            left = of_compose_project(docker_engine, stack.project)
            for name in left["containers"]:
                docker_engine.containers.get(name).remove(force=True)
            assert left == {"containers": [], "networks": [], "volumes": []}, left


def _post(port: int) -> list[dict[str, Any]] | None:
    try:
        resp = requests.post(f"http://127.0.0.1:{port}/post/index", timeout=5,
                             json={"data": [{"text": f"doc {i}"} for i in range(4)]})
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    return resp.json()["data"]  # type: ignore[no-any-return]


def test_exported_compose_stack_answers_and_down_leaves_nothing(exported: Exported,
                                                                docker_engine: Any) -> None:
    services = exported.compose("ps", "--services").split()
    assert set(services) == {"gateway", "first-head", "first-replicas", "first-tail", "second"}
    docs = wait_for(lambda: _post(exported.http_port), timeout_s=90, interval_s=0.5,
                    what="the exported gateway to answer POST /post/index")
    assert [d["text"] for d in docs] == [f"DOC {i}" for i in range(4)]  # by pod first
    for doc in docs:  # then by pod second
        assert doc["tags"]["pods"] == ["second"]
        assert doc["tags"]["dockerenv"] is True
    containers = of_compose_project(docker_engine, exported.project)["containers"]
    assert len(containers) == 6  # gateway, head, 2 replicas, tail, second
    def healthy() -> bool:
        states = [docker_engine.containers.get(n).attrs["State"].get("Health", {}).get("Status")
                  for n in containers]
        return all(s == "healthy" for s in states)

    wait_for(healthy, timeout_s=90, interval_s=1, what="every exported service to be healthy")
