"""Bad input and faults: each refuses clearly or fails one request, and leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh import AsyncClient, Client, Flow, Request
from mesh.errors import (
    ExecutorNotFoundError,
    FlowConfigError,
    PeaStartError,
    RequestTimeoutError,
    UnavailableError,
)
from mesh.flow.spec import PodSpec
from mesh.flow.topology import check_graph
from mesh.runtime.control import ctrl_request
from tests.fixtures.procs import mesh_children
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

EXECUTORS = "tests.integration.executors.basic"


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[set[int]]:
    """Every test here ends with the Peas it started stopped (asserted by reading /proc)."""
    before = set(mesh_children())
    yield before
    assert set(mesh_children()) <= before


def _start_fails(flow: Flow, error: type[Exception]) -> str:
    before = set(mesh_children())
    with pytest.raises(error) as info:
        flow.start()
    assert set(mesh_children()) <= before
    assert flow.health() is not None  # not running
    return str(info.value)


@pytest.mark.parametrize("uses, what", [
    ("_nope", "unknown built-in executor '_nope'; built-ins are _clear, _logforward, _merge"),
    ("no.such.module:X", "cannot import 'no.such.module'"),
    ("missing/exec.yml", "executor YAML file 'missing/exec.yml' does not exist"),
])
def test_unknown_executor_refuses_to_start(uses: str, what: str) -> None:
    flow = Flow().add(name="ok").add(name="enc", uses=uses)
    message = _start_fails(flow, ExecutorNotFoundError)
    assert message.startswith("pod 'enc': uses: ")
    assert what in message


def test_unknown_head_executor_names_the_field() -> None:
    flow = Flow().add(name="enc", replicas=2, uses_after="_nope")
    assert "pod 'enc': uses_after: unknown built-in" in _start_fails(flow, FlowConfigError)


def test_executor_yaml_naming_a_missing_py_module(tmp_path: Path) -> None:
    yml = tmp_path / "exec.yml"
    yml.write_text("!Mine\nmetas:\n  py_modules: [mine.py]\n")
    message = _start_fails(Flow().add(name="mine", uses=str(yml)), ExecutorNotFoundError)
    assert "pod 'mine'" in message and "mine.py" in message and "does not exist" in message


def test_missing_class_in_an_existing_module_fails_in_the_pea_with_its_name() -> None:
    flow = Flow().add(name="enc", uses=f"{EXECUTORS}:NoSuchClass")
    message = _start_fails(flow, PeaStartError)
    assert message.startswith("enc exited with code 2 before it was ready")
    assert "does not name an Executor subclass" in message


def test_needs_naming_a_missing_pod_raises_at_add() -> None:
    flow = Flow().add(name="a")
    with pytest.raises(FlowConfigError, match="pod 'b' needs 'nope', which is not a pod of this Flow"):
        flow.add(name="b", needs=["a", "nope"])
    assert [p.name for p in flow.pods] == ["a"]


def test_cycle_is_refused() -> None:
    pods = [PodSpec(name="a", needs=["gateway", "c"]), PodSpec(name="b", needs="a"),
            PodSpec(name="c", needs="b")]
    with pytest.raises(FlowConfigError, match="cycle: a -> c -> b -> a"):
        check_graph(pods)
    with pytest.raises(FlowConfigError, match="'a' needs itself"):
        check_graph([PodSpec(name="a", needs="a")])


def test_constructor_error_fails_start_with_its_message_and_stops_every_pea() -> None:
    flow = (Flow().add(name="first").add(name="second", replicas=2)
            .add(name="broken", uses=f"{EXECUTORS}:Broken").add(name="last"))
    message = _start_fails(flow, PeaStartError)
    assert message.startswith("broken exited with code 1 before it was ready")
    assert "RuntimeError: model file weights.bin is missing" in message
    assert "within" not in message  # not reported as a timeout


def test_pea_not_ready_in_time_fails_start_and_is_stopped() -> None:
    flow = Flow().add(name="model", uses=f"{EXECUTORS}:SlowStart", uses_with={"delay_s": 30},
                      timeout_ready_s=0.5)
    started = time.monotonic()
    message = _start_fails(flow, PeaStartError)
    assert message.startswith("model was not ready within")
    assert time.monotonic() - started < 5


def test_failing_pea_is_reported_without_waiting_for_a_slow_one() -> None:
    flow = (Flow().add(name="model", uses=f"{EXECUTORS}:SlowStart", uses_with={"delay_s": 60},
                       timeout_ready_s=60)
            .add(name="broken", uses=f"{EXECUTORS}:Broken"))
    started = time.monotonic()
    message = _start_fails(flow, PeaStartError)
    assert message.startswith("broken exited with code 1 before it was ready")
    assert time.monotonic() - started < 10


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = _start_fails(Flow().add(name="enc", port_in=port), PeaStartError)
    assert message.startswith("enc exited with code 2")
    assert f"enc: cannot bind port {port}: Address already in use" in message


def test_http_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = _start_fails(Flow(port_http=port).add(), PeaStartError)
    assert f"cannot bind HTTP port {port}" in message


def test_leaving_with_by_exception_stops_every_pea(no_leftovers: set[int], tmp_path: Path) -> None:
    closer = {"uses": f"{EXECUTORS}:Closer", "uses_with": {"path": str(tmp_path / "closed.txt")}}
    flow = Flow().add(replicas=2).add(name="closer", **closer)
    with pytest.raises(KeyError, match="raised inside"), flow:
        assert flow.index(["a", "b"])[0].docs.texts == ["a", "b"]  # type: ignore[index]
        assert len(set(mesh_children()) - no_leftovers) == 6  # gateway, head, 2 replicas, tail, closer
        raise KeyError("raised inside")
    assert flow.health() is not None
    # the Peas were stopped, not killed: the executor's close() ran
    assert (tmp_path / "closed.txt").read_text() == "closer saw 2"


def test_killed_pea_mid_stream_is_reported_not_waited_for() -> None:
    flow = Flow().add(name="slow", uses=f"{EXECUTORS}:Worker").add(name="after")
    with flow:
        port_ctrl = flow.plan.pod("slow").entry.port_ctrl  # type: ignore[union-attr]
        pid = int(ctrl_request("127.0.0.1", port_ctrl)["pid"])
        done: list[Request] = []
        killed_at: list[float] = []

        def kill_after_first(resp: Request) -> None:
            done.append(resp)
            if not killed_at:
                os.kill(pid, signal.SIGKILL)
                killed_at.append(time.monotonic())

        with pytest.raises(UnavailableError) as info:
            flow.post("/slow", [str(i) for i in range(40)], request_size=1,
                      parameters={"sleep_s": 0.05}, on_done=kill_after_first)
        assert time.monotonic() - killed_at[0] < 3
        assert "slow exited with code -9" in str(info.value)
        assert "request(s) will not be answered" in str(info.value)
        assert 1 <= len(done) < 40

        # a Client without the Flow's health check gives up after its timeout instead
        with Client(host="127.0.0.1", port_expose=flow.port_expose, timeout_s=0.5) as client:
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as timeout:
                client.index(["x"])
            assert str(timeout.value).startswith(f"no answer from the gateway at tcp://127.0.0.1:"
                                                 f"{flow.port_expose} within timeout_s=0.5 s")
            assert "a Pea of the Flow died or is slower than that" in str(timeout.value)
            assert time.monotonic() - started < 3

        # and one without a timeout learns it when the gateway goes away
        gateway = flow.plan.gateway.port_ctrl  # type: ignore[union-attr]
        outcome: list[BaseException] = []
        client = Client(host="127.0.0.1", port_expose=flow.port_expose)
        stuck = ctrl_request("127.0.0.1", gateway)["pending"]  # the requests "slow" did not answer
        thread = threading.Thread(target=lambda: _capture(outcome, client))
        thread.start()
        _wait_pending(gateway, stuck + 1)  # this client's request is in the gateway too
        os.kill(int(ctrl_request("127.0.0.1", gateway)["pid"]), signal.SIGKILL)
        thread.join(timeout=5)
        assert not thread.is_alive(), "the client hung after the gateway was killed"
        client.close()
    assert isinstance(outcome[0], UnavailableError)
    assert f"the gateway at tcp://127.0.0.1:{flow.port_expose} closed the connection" in str(outcome[0])


def _wait_pending(port_ctrl: int, count: int, timeout_s: float = 5) -> None:
    wait_for(lambda: ctrl_request("127.0.0.1", port_ctrl)["pending"] >= count, timeout_s=timeout_s,
             interval_s=0.01, what=f"the gateway to have {count} requests pending")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_client_of_a_port_where_nothing_listens(kind: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        kwargs = {"host": "127.0.0.1", "port_expose": port, "connect_timeout_s": 0.3}
        started = time.monotonic()
        with pytest.raises(UnavailableError, match=f"cannot connect to the gateway at tcp://127.0.0.1:{port} "
                                                   "within 0.3 s; 1 request"):
            if kind == "sync":
                with Client(**kwargs) as client:  # type: ignore[arg-type]
                    client.index(["x"])
            else:
                asyncio.run(AsyncClient(**kwargs).index(["x"]))  # type: ignore[arg-type]
    assert time.monotonic() - started < 3


def test_pea_killed_while_idle_is_reported_at_the_next_request() -> None:
    with Flow().add(name="p") as flow:
        assert flow.index(["a"]) is not None
        pid = int(ctrl_request("127.0.0.1", flow.plan.pod("p").entry.port_ctrl)["pid"])  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        outcome: list[BaseException] = []
        thread = threading.Thread(target=lambda: _capture(outcome, flow))
        thread.start()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the client hung after a Pea was killed"
    assert isinstance(outcome[0], UnavailableError)
    assert "p exited with code -9" in str(outcome[0])


def test_peas_stop_when_the_process_that_started_them_is_killed() -> None:
    script = ("from mesh import Flow\n"
              "f = Flow(http=False).add().start()\n"
              "print('started', flush=True)\n"
              "input()\n")  # the Flow's owner then waits on its stdin, until killed
    owner = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert owner.stdout is not None
        ready, _, _ = select.select([owner.stdout], [], [], 30)
        assert ready and owner.stdout.readline() == b"started\n"
        assert len(mesh_children(owner.pid)) == 2  # gateway and pod0
        owner.kill()
        owner.wait(timeout=5)
        wait_for(lambda: not mesh_children(owner.pid), timeout_s=5,
                 what="the Peas to follow the killed process that started them")
    finally:
        owner.kill()
        owner.wait(timeout=5)
        for stream in (owner.stdin, owner.stdout):
            if stream is not None:
                stream.close()


def _capture(outcome: list[BaseException], sender: Flow | Client) -> None:
    try:
        sender.index(["b"])
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        outcome.append(exc)
