"""The launcher contract (``mesh.launchers.base.PeaHandle``), one suite run against both
launchers: a Pea as a local process and a Pea in a Docker container.

Each case makes a real Pea (a real process, or a real container of the project image),
talks to its real control socket and checks what the supervisor and the local Flow rely
on: ready, stop, an exit reported once by callback (expected or not), an early exit with
its code and last lines, a missed deadline, and stop/kill that never raise.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh.errors import PeaStartError, UnavailableError
from mesh.launchers.base import ExitInfo, PeaHandle
from mesh.launchers.factory import make_pea, start_peas, stop_all
from mesh.launchers.ready import wait_all_ready
from mesh.net.ports import free_port
from mesh.runtime.config import PeaConfig
from mesh.runtime.control import ctrl_request
from tests.container.support import IMAGE, write_tagger
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

KINDS = ["process", pytest.param("container", marks=pytest.mark.container)]
Make = Callable[..., PeaHandle]


def _engine_or_skip() -> Any:
    try:
        from mesh.launchers.engine import docker_client

        client = docker_client()
        client.images.get(IMAGE)
    except (UnavailableError, Exception) as exc:  # noqa: BLE001 - no engine, or no image
        if os.environ.get("MESH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"MESH_REQUIRE_DOCKER=1 but {exc}", pytrace=False)
        pytest.skip(f"no Docker engine with {IMAGE}: {exc}")
    return client


class Exits:
    """Records each on_exit call of the handles it is attached to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ExitInfo]] = []
        self._lock = threading.Lock()

    def __call__(self, pea: PeaHandle, info: ExitInfo) -> None:
        with self._lock:
            self.calls.append((pea.name, info))


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """``make(**with_)``: an unstarted handle of a Tagger Pea (sleeping or failing as asked)
    of this test's kind; every handle made is stopped at teardown, and no container is left."""
    kind = request.param
    client = _engine_or_skip() if kind == "container" else None
    flow_id = f"contract-{secrets.token_hex(4)}"
    made: list[PeaHandle] = []

    def factory(**with_: Any) -> PeaHandle:
        uses = write_tagger(tmp_path / f"pea{len(made)}", **with_)
        cfg = PeaConfig(name=f"p/{len(made)}", pod="p", port_ctrl=free_port(), flow_id=flow_id,
                        uses=str(uses), image=IMAGE if kind == "container" else None)
        pea = make_pea(cfg, sink=lambda line: None, cwd=str(tmp_path), node="contract")
        made.append(pea)
        return pea

    yield factory
    stop_all(made, 2.0)
    if client is not None:
        left = client.containers.list(all=True, filters={"label": [f"mesh.flow={flow_id}"]})
        assert not left, f"containers left behind: {[c.name for c in left]}"


def test_a_started_pea_answers_on_its_control_socket_and_stops(make: Make) -> None:
    pea, exits = make(), Exits()
    pea.on_exit = exits
    start_peas([pea])
    wait_all_ready([pea], [60])
    assert pea.returncode is None
    assert ctrl_request("127.0.0.1", pea.port_ctrl, "status")["pea"] == pea.name
    pea.stop(3.0)
    assert pea.returncode is not None
    wait_for(lambda: exits.calls, timeout_s=10, what="the exit callback")
    assert [(name, info.expected) for name, info in exits.calls] == [(pea.name, True)]


def test_a_pea_that_dies_is_reported_once_as_unexpected(make: Make) -> None:
    pea, exits = make(), Exits()
    pea.on_exit = exits
    start_peas([pea])
    wait_all_ready([pea], [60])
    _kill_from_outside(pea)
    wait_for(lambda: exits.calls, timeout_s=15, what="the exit callback after SIGKILL")
    [(name, info)] = exits.calls
    assert name == pea.name and not info.expected
    assert info.code in (-signal.SIGKILL, 128 + signal.SIGKILL)
    pea.stop(1.0)  # stopping a dead Pea is a no-op, and reports nothing more
    assert len(exits.calls) == 1


def test_an_early_exit_raises_with_its_code_and_last_lines(make: Make) -> None:
    pea = make(fail=True)
    start_peas([pea])
    with pytest.raises(PeaStartError) as err:
        wait_all_ready([pea], [60])
    assert err.value.detail["exit_code"] == 1
    assert err.value.detail["pea"] == pea.name
    assert "Tagger refuses to start" in err.value.message
    assert any("Tagger refuses to start" in line for line in err.value.detail["log_tail"])


def test_a_missed_deadline_names_the_pea_and_it_still_stops(make: Make) -> None:
    slow, fine = make(sleep_s=60), make()
    start_peas([slow, fine])
    with pytest.raises(PeaStartError) as err:
        wait_all_ready([slow, fine], [1.5, 60])
    assert err.value.detail == {**err.value.detail, "pea": slow.name, "exit_code": None}
    assert "was not ready within 1.5 s" in err.value.message
    stop_all([slow, fine], 1.0)
    assert slow.returncode is not None and fine.returncode is not None


def test_the_first_failure_is_raised_without_waiting_for_a_slow_sibling(make: Make) -> None:
    slow, failing = make(sleep_s=60), make(fail=True)
    start_peas([slow, failing])
    with pytest.raises(PeaStartError) as err:
        wait_all_ready([slow, failing], [60, 60])
    assert err.value.detail["pea"] == failing.name  # not the slow one, whose deadline is far


def test_stop_and_kill_never_raise(make: Make) -> None:
    never_started = make()
    never_started.stop(1.0)
    never_started.kill()
    assert never_started.returncode is None
    pea = make()
    start_peas([pea])
    wait_all_ready([pea], [60])
    pea.kill()
    assert pea.returncode is not None
    pea.kill()
    pea.stop(1.0)


def _kill_from_outside(pea: PeaHandle) -> None:
    """SIGKILL the Pea as the kernel's OOM killer or an operator would: not through its handle."""
    if pea.pid is not None:
        os.killpg(pea.pid, signal.SIGKILL)
        return
    container = getattr(pea, "container", None)
    assert container is not None
    container.kill(signal="SIGKILL")
