"""Bad input for image pods: a clear error naming the pod (and the image, or the port), fast,
and nothing left behind (the autouse fixture checks that no container stays)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh import Flow
from mesh.errors import BadRequestError, FlowConfigError, PeaStartError, UnavailableError
from tests.container.support import IMAGE, containers
from tests.fixtures.procs import mesh_children
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.container


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    yield
    wait_for(lambda: not mesh_children(), timeout_s=5, what="the Peas of this process to exit")


def test_image_that_does_not_exist_is_a_400_at_once(docker_engine: Any) -> None:
    flow = Flow().add(name="p0", uses="_pass").add(name="enc", image="mesh-test-missing:0.1", replicas=2)
    began = time.monotonic()
    with pytest.raises(BadRequestError) as err:
        flow.start()
    assert time.monotonic() - began < 10  # no pull from a registry this machine cannot reach
    assert err.value.status == 400
    assert "pod 'enc'" in err.value.message and "'mesh-test-missing:0.1'" in err.value.message
    assert err.value.detail["image"] == "mesh-test-missing:0.1"
    assert containers(docker_engine, flow=flow.flow_id) == []


@pytest.mark.parametrize("replicas", [0, -1])
def test_image_pod_with_no_replicas_is_refused(replicas: int, tmp_path: Path) -> None:
    with pytest.raises(FlowConfigError) as err:
        Flow().add(name="enc", image=IMAGE, replicas=replicas)
    assert err.value.message.startswith("pod 'enc': replicas:")
    assert "greater than or equal to 1" in err.value.message
    source = tmp_path / "flow.yml"
    source.write_text(f"!Flow\npods:\n  - name: enc\n    image: {IMAGE}\n    replicas: {replicas}\n")
    with pytest.raises(FlowConfigError) as err:
        Flow.load_config(source)
    assert "enc" in err.value.message and "replicas" in err.value.message


def test_no_docker_engine_names_docker_and_the_pod(
        docker_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    flow = Flow().add(name="p0", uses="_pass").add(name="enc", image=IMAGE)
    began = time.monotonic()
    with pytest.raises(UnavailableError) as err:
        flow.start()
    assert time.monotonic() - began < 5
    message = err.value.message
    assert err.value.status == 503
    assert "pod 'enc'" in message and IMAGE in message
    assert "Docker engine" in message and "unix:///nonexistent.sock" in message
    monkeypatch.delenv("DOCKER_HOST")
    with Flow().add(name="enc", image=IMAGE):  # the same process finds the engine again
        pass


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_the_host_already_uses_is_named(docker_engine: Any, busy_port: int) -> None:
    flow = Flow().add(name="p0", uses="_pass").add(name="enc", image=IMAGE, port_in=busy_port)
    with pytest.raises(FlowConfigError) as err:
        flow.start()
    assert err.value.status == 400
    assert f"port {busy_port}" in err.value.message and "pod 'enc'" in err.value.message
    assert "already in use" in err.value.message and err.value.detail["port"] == busy_port
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_port_another_container_publishes_is_named(docker_engine: Any) -> None:
    """Two image pods given the same port: the second cannot publish it."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port = probe.getsockname()[1]
    flow = Flow().add(name="a", image=IMAGE, port_in=port).add(name="b", image=IMAGE, port_ctrl=port)
    with pytest.raises(FlowConfigError) as err:
        flow.start()
    assert f"port {port}" in err.value.message
    assert "pod 'a'" in err.value.message or "pod 'b'" in err.value.message
    assert containers(docker_engine, flow=flow.flow_id) == []


def test_host_network_pod_on_a_busy_port_says_so(docker_engine: Any, busy_port: int) -> None:
    """On the host's network the Pea binds the port itself and refuses to start (exit 2)."""
    flow = Flow().add(name="enc", image=IMAGE, network="host", port_in=busy_port)
    with pytest.raises(PeaStartError) as err:
        flow.start()
    assert err.value.detail["exit_code"] == 2 and err.value.detail["image"] == IMAGE
    assert "enc" in err.value.message and str(busy_port) in err.value.message
    assert containers(docker_engine, flow=flow.flow_id) == []
