"""The ``mesh`` command as a user runs it: real processes, real sockets, signals."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from mesh import Document
from mesh.clients import Client
from mesh.flow.flow import Flow
from mesh.parsers import set_client_cli_parser
from tests.fixtures.procs import mesh_children

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MESH = [sys.executable, "-m", "mesh.cli.main"]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
GATEWAY = re.compile(r"^gateway: host=(\S+) port_expose=(\d+) port_http=(\S+)$")
CONTROL = re.compile(r"control over tcp://0\.0\.0\.0:(\d+) \(ROUTER_BIND\)")
ROUND_OK = re.compile(r"^ping tcp://127\.0\.0\.1:\d+ at (\d) round takes [\d.]+ ms$")


# -- seed code: step 3 of the remote-Flow walkthrough (its imports are at the top) --------
def send_index_request(host: str, port: int | str, on_done: Callable[[Any], None]) -> None:
    print(f'index request sent to {host}:{port}')
    args = set_client_cli_parser().parse_args(
        ['--host', host, '--port-expose', str(port)])
    grpc_client = Client(args)
    grpc_client.index(
        [Document(text='hello, jina'), ], on_done=on_done)
# -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_mesh(*args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MESH, *args], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=timeout_s, stdin=subprocess.DEVNULL)


class MeshProcess:
    """A long-running ``mesh`` command whose stdout is read line by line, with deadlines."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self.stderr_file: IO[bytes] = stderr_path.open("wb")
        self.stderr_path = stderr_path
        self.proc = subprocess.Popen([*MESH, *args], cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr_file, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_line(self, pattern: re.Pattern[str] | str, timeout_s: float = START_TIMEOUT_S) -> str:
        """The first stdout line (from now on) that matches; fails at the deadline or on exit."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} within {timeout_s:g} s; "
                            f"stdout so far: {self.lines}; stderr:\n{self.stderr()}")
            if line is None:
                pytest.fail(f"mesh exited ({self.proc.wait()}) before printing {pattern!r}; "
                            f"stdout: {self.lines}; stderr:\n{self.stderr()}")
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = STOP_TIMEOUT_S) -> int:
        self.proc.send_signal(sig)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"mesh did not exit within {timeout_s:g} s; stderr:\n{self.stderr()}")

    def kill(self) -> None:
        """Teardown: whatever is still running, the command and its Peas, is killed."""
        leftovers = mesh_children(self.pid)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        for pid in leftovers:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reader.join(timeout=STOP_TIMEOUT_S)  # it closes stdout at EOF
        self.stderr_file.close()


@pytest.fixture
def pea_flow() -> Iterator[Flow]:
    flow = Flow(http=False).add(uses="_pass")
    with flow:
        yield flow


def assert_quiet_error(result: subprocess.CompletedProcess[str] | str) -> None:
    stderr = result if isinstance(result, str) else result.stderr
    assert "error: " in stderr
    assert "Traceback" not in stderr


def assert_no_peas_left(parent_pid: int) -> None:
    assert mesh_children(parent_pid) == [], "Pea processes outlived the mesh command"


# -- mesh ping ---------------------------------------------------------------------------
def test_ping_times_each_round_of_a_running_pea(pea_flow: Flow) -> None:
    assert pea_flow.plan is not None
    port_ctrl = pea_flow.plan.pods[0].peas[0].port_ctrl

    result = run_mesh("ping", "127.0.0.1", str(port_ctrl), "--retries", "2")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [ROUND_OK.match(line)[1] for line in lines[:2]] == ["1", "2"]  # type: ignore[index]
    assert re.fullmatch(r"avg\. latency: [\d.]+ ms", lines[2])


def test_ping_without_a_listener_fails_within_its_timeout() -> None:
    port = free_port()
    start = time.monotonic()

    result = run_mesh("ping", "127.0.0.1", str(port), "--timeout", "0.5", "--retries", "2")

    elapsed_s = time.monotonic() - start
    assert result.returncode == 1
    assert result.stdout.count("fails: no answer within 0.5 s") == 2
    assert_quiet_error(result)
    assert elapsed_s < 2 * 0.5 + 5.0  # the two rounds plus the interpreter's start


# -- mesh flow ---------------------------------------------------------------------------
FLOW_YAML = """\
!Flow
version: '1'
with:
  name: cli-test
pods:
  - name: first
    uses: _logforward
  - name: second
    uses: _logforward
"""


@pytest.mark.timeout(90)
def test_flow_serves_a_client_until_sigint(tmp_path: Path, mesh_process: Callable[..., MeshProcess]) -> None:
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(FLOW_YAML, encoding="utf-8")
    port_expose = free_port()
    mesh = mesh_process("flow", "--uses", str(flow_yml), "--port-expose", str(port_expose))

    host, port, port_http = GATEWAY.match(mesh.wait_for_line(GATEWAY)).groups()  # type: ignore[union-attr]
    assert int(port) == port_expose and port_http.isdigit()
    assert len(mesh_children(mesh.pid)) == 3  # gateway, first, second
    responses: list[Any] = []
    send_index_request(host, port, responses.append)

    assert len(responses) == 1
    assert [d.text for d in responses[0].docs] == ["hello, jina"]
    assert [step["pod"] for step in responses[0].route] == ["gateway", "first", "second"]
    assert mesh.stop(signal.SIGINT) == 0
    assert_no_peas_left(mesh.pid)
    assert "Traceback" not in mesh.stderr()
    assert "cli-test terminated" in mesh.stderr()


@pytest.mark.timeout(90)
def test_flow_whose_pea_dies_stops_with_an_error(tmp_path: Path,
                                                 mesh_process: Callable[..., MeshProcess]) -> None:
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(FLOW_YAML, encoding="utf-8")
    mesh = mesh_process("flow", "--uses", str(flow_yml))
    mesh.wait_for_line(GATEWAY)
    victim = mesh_children(mesh.pid)[0]

    os.killpg(victim, signal.SIGKILL)

    assert mesh.wait() == 1
    assert re.search(r"error: the Flow stopped serving: \S+ exited with code -9", mesh.stderr())
    assert "Traceback" not in mesh.stderr()
    assert_no_peas_left(mesh.pid)


def test_flow_with_a_missing_file_fails_quietly(tmp_path: Path) -> None:
    result = run_mesh("flow", "--uses", str(tmp_path / "missing.yml"))

    assert result.returncode != 0
    assert_quiet_error(result)
    assert "missing.yml not found" in result.stderr


def test_flow_with_a_bad_pod_argument_fails_quietly(tmp_path: Path) -> None:
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text("!Flow\nversion: '1'\npods:\n  - uses: _pass\n    replicas: zero\n",
                        encoding="utf-8")

    result = run_mesh("flow", "--uses", str(flow_yml))

    assert result.returncode == 2
    assert_quiet_error(result)
    assert "replicas" in result.stderr


# -- mesh pod ----------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_pod_prints_its_sockets_answers_ping_and_stops(
        sig: int, mesh_process: Callable[..., MeshProcess]) -> None:
    port_ctrl = free_port()
    mesh = mesh_process("pod", "--uses", "_logforward", "--name", "p1", "--port-ctrl", str(port_ctrl))

    mesh.wait_for_line(r"^ready$")
    sockets = next(line for line in mesh.lines if line.startswith("p1: "))
    assert re.search(r"input tcp://0\.0\.0\.0:\d+ \(PULL_BIND\) output tcp://\S+ \(PUSH_CONNECT\)",
                     sockets)
    assert CONTROL.search(sockets)[1] == str(port_ctrl)  # type: ignore[index]
    assert any(GATEWAY.match(line) for line in mesh.lines)
    ping = run_mesh("ping", "127.0.0.1", str(port_ctrl), "--retries", "1")
    assert ping.returncode == 0, ping.stderr
    assert mesh.stop(sig) == 0
    assert_no_peas_left(mesh.pid)
    assert "Traceback" not in mesh.stderr()


def test_pod_with_an_unknown_builtin_fails_quietly(mesh_process: Callable[..., MeshProcess]) -> None:
    mesh = mesh_process("pod", "--uses", "_nope")

    assert mesh.wait(START_TIMEOUT_S) != 0
    assert_quiet_error(mesh.stderr())
    assert "unknown built-in executor '_nope'" in mesh.stderr()
    assert_no_peas_left(mesh.pid)


# -- the command itself ------------------------------------------------------------------
def test_console_script_starts_without_the_flow_machinery() -> None:
    code = ("import sys, mesh.cli.main; "
            "heavy = [m for m in ('mesh.flow.flow', 'zmq', 'pydantic', 'numpy') if m in sys.modules]; "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=False, timeout=30)

    assert result.stdout.strip() == "[]", result.stderr
    assert run_mesh("--version").stdout.strip() == "mesh 0.1.0"
