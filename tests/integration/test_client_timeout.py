"""The Client's default timeout, and the error it raises when a Pea of the Flow dies.

A real Flow whose Pea is SIGKILLed mid-run: a Client of the gateway alone raises
``RequestTimeoutError`` within its ``timeout_s`` naming the gateway, the request and the
wait; a Client given the Flow raises ``UnavailableError`` at once naming the dead Pea.
Every call runs under a bound, so a hang fails the test instead of blocking it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mesh import AsyncClient, Client, Flow, Request
from mesh.client.client import DEFAULT_TIMEOUT_S
from mesh.errors import BadRequestError, RequestTimeoutError, UnavailableError
from mesh.runtime.control import ctrl_request

pytestmark = pytest.mark.integration

EXECUTORS = "tests.integration.executors.basic"
BOUND_S = 15.0  # no call here may take longer, whatever goes wrong


@pytest.fixture
def flow() -> Iterator[Flow]:
    with Flow(http=False).add(name="slow", uses=f"{EXECUTORS}:Worker").add(name="after") as f:
        yield f


def _bounded(call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    """Run ``call`` in a thread; fail the test if it does not end within BOUND_S."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(BOUND_S)
    assert not thread.is_alive(), f"the call hung for more than {BOUND_S:g} s"
    return outcome[0], time.monotonic() - started


def _kill_slow_after_first(flow: Flow) -> tuple[Callable[[Request], None], list[float]]:
    assert flow.plan is not None
    pid = int(ctrl_request("127.0.0.1", flow.plan.pod("slow").entry.port_ctrl)["pid"])
    killed_at: list[float] = []

    def on_done(resp: Request) -> None:
        if not killed_at:
            os.kill(pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

    return on_done, killed_at


def _post(client: Client, on_done: Callable[[Request], None]) -> None:
    client.post("/slow", [str(i) for i in range(30)], request_size=1, parameters={"sleep_s": 0.05},
                on_done=on_done)


def test_the_default_timeout_is_documented_and_overridable() -> None:
    assert DEFAULT_TIMEOUT_S == 60.0
    assert Client(port_expose=1).timeout_s == DEFAULT_TIMEOUT_S
    assert AsyncClient(port_expose=1).timeout_s == DEFAULT_TIMEOUT_S
    assert Client(port_expose=1, timeout_s=None).timeout_s is None
    assert Client(port_expose=1, timeout_s=2.5).timeout_s == 2.5
    with pytest.raises(BadRequestError, match="timeout_s must be positive seconds or None"):
        Client(port_expose=1, timeout_s=0)


def test_a_client_of_the_gateway_times_out_when_a_pea_is_killed_mid_run(flow: Flow) -> None:
    on_done, killed_at = _kill_slow_after_first(flow)
    with Client(host="127.0.0.1", port_expose=flow.port_expose, timeout_s=1.0) as client:
        error, _ = _bounded(lambda: _post(client, on_done))
    assert isinstance(error, RequestTimeoutError), error
    waited_s = time.monotonic() - killed_at[0]
    assert 1.0 <= waited_s < 3.0
    message = error.message
    assert message.startswith(f"no answer from the gateway at tcp://127.0.0.1:{flow.port_expose} "
                              "within timeout_s=1 s (request ")
    assert "to /slow, " in message and " pending); " in message
    assert "a Pea of the Flow died or is slower than that" in message
    assert error.detail["endpoint"] == "/slow" and error.detail["timeout_s"] == 1.0
    assert error.status == 504


def test_a_client_given_the_flow_names_the_dead_pea_at_once(flow: Flow) -> None:
    on_done, killed_at = _kill_slow_after_first(flow)
    with Client(flow=flow) as client:  # the default timeout: the Flow's health says it first
        error, _ = _bounded(lambda: _post(client, on_done))
    assert isinstance(error, UnavailableError), error
    assert time.monotonic() - killed_at[0] < 3.0
    assert error.message.startswith("slow exited with code -9; ")
    assert "request(s) will not be answered (calls to /slow through tcp://127.0.0.1:" in error.message


def test_an_async_client_times_out_too(flow: Flow) -> None:
    on_done, killed_at = _kill_slow_after_first(flow)
    client = AsyncClient(host="127.0.0.1", port_expose=flow.port_expose, timeout_s=1.0)
    error, _ = _bounded(lambda: asyncio.run(client.post(
        "/slow", [str(i) for i in range(30)], request_size=1, parameters={"sleep_s": 0.05},
        on_done=on_done)))
    assert isinstance(error, RequestTimeoutError), error
    assert 1.0 <= time.monotonic() - killed_at[0] < 3.0
    assert "within timeout_s=1 s (request " in error.message


def test_a_slow_pod_is_told_from_a_dead_one(flow: Flow) -> None:
    """Every Pea runs: the Flow's Client says so, and timeout_s=None waits as long as it takes."""
    slow = {"parameters": {"sleep_s": 1.5}}
    with Client(flow=flow, timeout_s=0.5) as client:
        error, took_s = _bounded(lambda: client.post("/slow", ["x"], **slow))
    assert isinstance(error, RequestTimeoutError) and took_s < 1.5
    assert "every Pea of the Flow on this machine is running, so a pod is slower" in error.message
    with Client(flow=flow, timeout_s=None) as client:
        error, took_s = _bounded(lambda: client.post("/slow", ["y"], **slow))
    assert error is None and took_s >= 1.5
