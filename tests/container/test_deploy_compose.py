"""docker-compose.yml: NATS and three jinad nodes; the seed's remote-Flow scripts against one
node with pods placed on the two others; ``down -v`` leaves nothing of the project behind.

Every port is a free one, given through the file's environment overrides, and the project
name is unique, so the stack cannot clash with anything else on the machine.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.net.ports import free_port
from tests.container.support import IMAGE, LABEL
from tests.fixtures.docker import REPO, compose_command, of_compose_project, wait_alive, walkthrough
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.container

NODES = ("n1", "n2", "n3")
SPREAD_FLOW = """\
!Flow
version: 1
pods:
  - name: pod0
    uses: _logforward
    host: n1
  - name: pod1
    uses: _logforward
    host: n3
"""


class Stack:
    def __init__(self, project: str, env: dict[str, str]) -> None:
        self.project, self.env = project, env
        self.ports = {n: int(env[f"{n.upper()}_PORT"]) for n in NODES}

    def compose(self, *args: str, timeout_s: float = 90) -> str:
        proc = subprocess.run([*compose_command(), "-p", self.project, *args], cwd=REPO,
                              env=self.env, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"compose {' '.join(args)} exited with {proc.returncode}:\n{out}"
        return out

    def logs(self) -> str:
        proc = subprocess.run([*compose_command(), "-p", self.project, "logs", "--no-color"],
                              cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=30, check=False)
        return proc.stdout[-6000:]


@pytest.fixture
def stack(docker_engine: Any) -> Iterator[Stack]:
    project = f"meshdeploy{secrets.token_hex(4)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JINAD_", "N1_", "N2_", "N3_"))}
    env.update({"MESH_IMAGE": IMAGE, "ADVERTISE_HOST": "127.0.0.1", "NATS_HOST": "127.0.0.1",
                "NATS_PORT": str(free_port()), "NATS_HTTP_PORT": str(free_port()),
                **{f"{n.upper()}_PORT": str(free_port()) for n in NODES},
                # the NATS users' passwords (deploy/nats/auth.conf), required by the file
                **{f"{v}_PASSWORD": secrets.token_hex(12)
                   for v in ("NODE_N1", "NODE_N2", "NODE_N3", "EDGE", "LOGS")}})
    s = Stack(project, env)
    try:
        s.compose("up", "-d", "--no-build")  # the image is there (no registry, nothing to pull)
        yield s
    finally:
        try:
            s.compose("down", "-v", "--remove-orphans", "-t", "20")
        finally:
            left = of_compose_project(docker_engine, project)
            for name in left["containers"]:
                docker_engine.containers.get(name).remove(force=True)


def test_compose_stack_runs_the_seed_walkthrough_and_leaves_nothing(
        stack: Stack, docker_engine: Any) -> None:
    before = {c.id for c in docker_engine.containers.list(all=True, filters={"label": LABEL})}
    for name, port in stack.ports.items():
        alive = wait_alive(port, timeout_s=40, what=f"jinad {name}", failed=lambda: _exited(stack))
        assert alive["node"] == name and alive["address"] == "127.0.0.1"
    n1, n2 = stack.ports["n1"], stack.ports["n2"]

    def health() -> dict[str, str]:
        boxes = docker_engine.containers.list(
            filters={"label": f"com.docker.compose.project={stack.project}"})
        return {b.labels.get("com.docker.compose.service"): b.attrs["State"].get(
            "Health", {}).get("Status") for b in boxes}

    wait_for(lambda: all(health().get(n) == "healthy" for n in ("n1", "n2", "n3")),
             timeout_s=60, interval_s=0.5, what="the nodes' health checks (GET /ready) to pass")

    nodes = requests.get(f"http://127.0.0.1:{n1}/nodes", timeout=5).json()["nodes"]
    assert sorted((n["name"], n["address"], n["port"]) for n in nodes) == \
        sorted(("n" + str(i), "127.0.0.1", stack.ports[f"n{i}"]) for i in (1, 2, 3)), nodes

    def placed(flow_id: str) -> None:
        info = requests.get(f"http://127.0.0.1:{n2}/flow/{flow_id}", timeout=5).json()
        assert info["gateway"]["node"] == "n2"
        assert [(p["name"], p["node"], p["status"]) for p in info["pods"]] == [
            ("pod0", "n1", "running"), ("pod1", "n3", "running")], info
        # the Document went through both pods: pod1 (on n3) received it from pod0 (on n1)
        lines = [r["message"] for r in _logs(n2, flow_id, "pod1")]
        assert any("recv" in m and "pod0" in m for m in lines), lines

    yaml_path = Path(stack.env.get("TMPDIR", "/tmp")) / f"{stack.project}-flow.yml"
    yaml_path.write_text(SPREAD_FLOW)
    try:
        done = walkthrough("127.0.0.1", n2, yaml_path, while_running=placed)
    finally:
        yaml_path.unlink()
    assert requests.get(f"http://127.0.0.1:{n1}/flow/{done.flow_id}", timeout=5).status_code == 404
    wait_for(lambda: all(n["peas"] == 0 for n in requests.get(
        f"http://127.0.0.1:{n1}/nodes", timeout=5).json()["nodes"]), timeout_s=10, interval_s=0.2,
        what="every node to report no Peas")

    stack.compose("down", "-v", "--remove-orphans", "-t", "20")
    assert of_compose_project(docker_engine, stack.project) == {"containers": [], "networks": [],
                                                         "volumes": []}
    # and no Pea container of this stack's nodes (its pods are processes: none may be made)
    after = docker_engine.containers.list(all=True, filters={"label": LABEL})
    assert [c.name for c in after if c.id not in before
            and c.labels.get(f"{LABEL}.node") in NODES] == []
    for port in stack.ports.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/alive", timeout=2)


def _logs(port: int, flow_id: str, pod: str) -> list[dict[str, Any]]:
    from mesh.client.edge import EdgeClient

    return list(EdgeClient("127.0.0.1", port).logs(flow_id, pod=pod))


def _exited(stack: Stack) -> str | None:
    proc = subprocess.run([*compose_command(), "-p", stack.project, "ps", "--services",
                           "--filter", "status=stopped"], cwd=REPO, env=stack.env,
                          capture_output=True, text=True, timeout=30, check=False)
    stopped = proc.stdout.split()
    return f"services stopped: {stopped}\n{stack.logs()}" if stopped else None
