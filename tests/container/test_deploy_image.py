"""The project's image runs jinad the seed's way: ``docker run -d --network host <image>``,
then the seed's remote-Flow walkthrough against it, with the Peas inside that container."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.net.ports import free_port
from tests.container.support import IMAGE
from tests.fixtures.docker import docker_command, wait_alive, walkthrough

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
DUMMY_FLOW = REPO / "examples" / "dummy_flow.yml"


def _docker(*args: str, timeout_s: float = 60) -> str:
    proc = subprocess.run([*docker_command(), *args], capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def _logs(cid: str) -> str:
    """What jinad wrote (to stderr) in the container."""
    proc = subprocess.run([*docker_command(), "logs", cid], capture_output=True, text=True,
                          timeout=30, check=False)
    return proc.stdout + proc.stderr


def _inspect(cid: str) -> dict[str, Any]:
    return dict(json.loads(_docker("inspect", cid))[0])


def _pea_processes(cid: str) -> list[str]:
    """Command lines of the container's Pea processes (``docker top`` runs ps on the host)."""
    lines = _docker("top", cid, "-eo", "pid,args").splitlines()[1:]
    lines = [line.strip().split(None, 1)[1] for line in lines if len(line.split()) > 1]
    return [line for line in lines if "mesh.runtime.entry" in line]


def test_docker_run_network_host_is_a_working_jinad(docker_engine: Any) -> None:
    port, nats_port = free_port(), free_port()
    cid = _docker("run", "-d", "--network", "host", IMAGE, "--port", str(port), "--name",
                  "img-node", "--advertise-host", "127.0.0.1", "--nats-port", str(nats_port),
                  "--state-dir", "/tmp/x").strip()
    try:
        def exited() -> str | None:
            state = _inspect(cid)["State"]
            if state["Running"]:
                return None
            return f"exited with {state['ExitCode']}:\n{_logs(cid)}"

        alive = wait_alive(port, timeout_s=30, what="jinad in the container", failed=exited)
        assert alive["node"] == "img-node" and alive["address"] == "127.0.0.1"

        def inside(flow_id: str) -> None:
            info = requests.get(f"http://127.0.0.1:{port}/flow/{flow_id}", timeout=5).json()
            assert [(p["name"], p["node"]) for p in info["pods"]] == [
                ("pod0", "img-node"), ("pod1", "img-node")]
            peas = _pea_processes(cid)
            assert len(peas) == 3, peas  # the gateway and the two pods, in this container
            assert all(p.startswith("/opt/mesh/bin/python") for p in peas), peas

        done = walkthrough("127.0.0.1", port, DUMMY_FLOW, while_running=inside)
        assert not _pea_processes(cid)  # DELETE answers once every Pea has stopped
        assert requests.get(f"http://127.0.0.1:{port}/flow/{done.flow_id}",
                            timeout=5).status_code == 404

        _docker("stop", "--time", "20", cid)
        state = _inspect(cid)["State"]
        logs = _logs(cid)
        assert state["ExitCode"] == 0, logs
        assert "jinad img-node stopped after" in logs and "Traceback" not in logs, logs
    finally:
        subprocess.run([*docker_command(), "rm", "-f", cid], capture_output=True, check=False)
    gone = subprocess.run([*docker_command(), "inspect", cid], capture_output=True, check=False)
    assert gone.returncode != 0, "the container is still there"
