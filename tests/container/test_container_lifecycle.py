"""Containers that fail to become Peas, the ready deadline of each, parallel starts, and the
containers of a Flow process that was killed: removed by the next Flow start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh import Flow
from mesh.errors import PeaStartError
from mesh.launchers import docker as container_mod
from tests.container.support import IMAGE, containers, write_tagger
from tests.fixtures.procs import mesh_children
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.container


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    yield
    wait_for(lambda: not mesh_children(), timeout_s=5, what="the Peas of this process to exit")


def test_executor_that_raises_in_its_constructor(docker_engine: Any, tmp_path: Path) -> None:
    uses = write_tagger(tmp_path, fail=True)
    flow = Flow().add(name="p0", uses="_pass").add(name="enc", uses=str(uses), image=IMAGE)
    with pytest.raises(PeaStartError) as err:
        flow.start()
    message, detail = err.value.message, err.value.detail
    assert message.startswith(f"enc (pod 'enc', container of image '{IMAGE}') exited with code 1 "
                              "before it was ready; last log lines:")
    assert detail["exit_code"] == 1 and detail["image"] == IMAGE and detail["pea"] == "enc"
    assert any("RuntimeError: Tagger refuses to start: fail=True" in line for line in detail["log_tail"])
    assert "Tagger refuses to start" in message  # the lines were read before the removal
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_image_whose_entrypoint_exits_at_once(docker_engine: Any, test_images: dict[str, str]) -> None:
    image = test_images["exits"]
    flow = Flow().add(name="enc", image=image, replicas=2)
    with pytest.raises(PeaStartError) as err:
        flow.start()
    detail = err.value.detail
    assert detail["exit_code"] == 3 and detail["image"] == image and detail["pod"] == "enc"
    assert detail["pea"] in ("enc/0", "enc/1")
    assert detail["log_tail"] == ["this image exits at once"]
    assert f"container of image '{image}') exited with code 3" in err.value.message
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_image_that_cannot_run_a_pea(docker_engine: Any, test_images: dict[str, str]) -> None:
    image = test_images["no_python"]
    flow = Flow().add(name="enc", image=image)
    with pytest.raises(PeaStartError) as err:
        flow.start()
    assert err.value.message.startswith(f"enc (pod 'enc', container of image '{image}') exited "
                                        "with code 127 before it was ready; the image cannot run "
                                        "`python -m mesh.runtime.entry`")
    assert err.value.detail["exit_code"] == 127
    assert any("exec python failed" in line for line in err.value.detail["log_tail"])
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_replicas_start_in_parallel_and_each_has_the_ready_deadline(
        docker_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replica 1 sleeps 60 s while it is built: with timeout_ready_s=2 the start fails after
    about 2 s naming that Pea, while replica 0 was ready; the containers start at once."""
    uses = write_tagger(tmp_path, sleep_s=60, sleep_replica=1)
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()
    real_start = container_mod.PeaContainer.start

    def timed_start(self: Any) -> None:
        began = time.monotonic()
        real_start(self)
        with lock:
            spans[self.name] = (began, time.monotonic())

    monkeypatch.setattr(container_mod.PeaContainer, "start", timed_start)
    flow = Flow().add(name="enc", uses=str(uses), image=IMAGE, replicas=3, timeout_ready_s=2)
    began = time.monotonic()
    with pytest.raises(PeaStartError) as err:
        flow.start()
    failed_after = time.monotonic() - began
    assert err.value.message.startswith(
        f"enc/1 (pod 'enc', container of image '{IMAGE}') was not ready within 2 s")
    assert err.value.detail["pea"] == "enc/1" and err.value.detail["exit_code"] is None
    assert failed_after < 2 + 15, failed_after  # the deadline, plus starting the containers
    assert sorted(spans) == ["enc/0", "enc/1", "enc/2"]
    assert max(b for b, _ in spans.values()) < min(e for _, e in spans.values())  # overlapping
    assert containers(docker_engine, flow=flow.flow_id) == []


_KILLED = """
import sys
from mesh import Flow

flow = Flow().add(name="enc", uses=USES, image=IMAGE)
flow.start()
print("started", flow.flow_id, flush=True)
sys.stdin.read()  # until killed
"""


def test_containers_of_a_killed_flow_process_go_at_the_next_flow_start(
        docker_engine: Any, tagger: Path, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(_KILLED.replace("USES", repr(str(tagger))).replace("IMAGE", repr(IMAGE)))
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("started "), line
        flow_id = line.split()[1]
        (box,) = containers(docker_engine, flow=flow_id)
        pid_ns = os.readlink("/proc/self/ns/pid")[len("pid:["):-1]
        assert box.labels["mesh.owner"] == f"{socket.gethostname()}:{pid_ns}:{proc.pid}"
        proc.send_signal(signal.SIGKILL)  # no close(), no `with` exit
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    wait_for(lambda: not mesh_children(proc.pid), timeout_s=10,
             what="the killed Flow's processes to notice their parent is gone")
    box.reload()
    assert box.status == "running"  # nothing in the container can see the Flow process die
    with Flow().add(name="next", image=IMAGE):
        assert containers(docker_engine, flow=flow_id) == []
