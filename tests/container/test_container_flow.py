"""``Flow.add(image=...)``: each replica of the pod is a container of its own, the rest of the
Flow stays processes; the executor's files are mounted read-only; the containers' log lines
are printed here like those of processes; leaving the Flow removes the containers."""

from __future__ import annotations

import os
import re
import socket
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from mesh import Document, Flow
from tests.container.support import IMAGE, containers, index_until_every_replica, write_tagger

pytestmark = pytest.mark.container


def _pid_ns() -> str:
    return os.readlink("/proc/self/ns/pid")[len("pid:["):-1]


def test_replicas_are_containers_and_requests_reach_each(
        docker_engine: Any, tagger: Path, capfd: pytest.CaptureFixture[str]) -> None:
    flow = (Flow().add(name="p0", uses="_pass")
            .add(name="p1", uses=str(tagger), image=IMAGE, replicas=2)
            .add(name="p2", uses="_pass"))
    with flow:
        boxes = containers(docker_engine, flow=flow.flow_id)
        assert sorted(c.labels["mesh.pea"] for c in boxes) == ["p1/0", "p1/1"]
        for box in boxes:
            assert box.status == "running" and box.image.tags[0] == IMAGE
            assert box.labels["mesh.pod"] == "p1" and box.labels["mesh.node"] == "local"
            assert box.labels["mesh.owner"] == f"{socket.gethostname()}:{_pid_ns()}:{os.getpid()}"
        # the head and the tail of the pod, and the other pods, stay processes here
        assert {pea.name for pea in flow._runner.peas if pea.pid} == {  # type: ignore[union-attr]
            "gateway", "p0", "p1/head", "p1/tail", "p2"}

        results = index_until_every_replica(partial(flow.index, request_size=1), 2)
        docs = [d for r in results for d in r.docs]
        sent = len(results)
        assert sorted(d.text for d in docs) == sorted(f"doc {i // 6}.{i % 6}" for i in range(sent))
        assert all(d.tags["pods"] == ["p1"] and d.tags["dockerenv"] for d in docs)
        hostnames = {box.attrs["Config"]["Hostname"] for box in boxes}
        assert {h for d in docs for h in d.tags["hosts"]} == hostnames  # both replicas served
        assert {d.tags["replica"] for d in docs} == {0, 1}
        assert [e["pod"] for e in results[0].route] == ["gateway", "p0", "p1", "p1", "p1", "p2"]

        # the executor's folder is mounted read-only at the same path
        for box in boxes:
            mounts = {m["Destination"]: m for m in box.attrs["Mounts"]}
            folder = str(tagger.parent)
            assert mounts[folder]["Source"] == folder and mounts[folder]["RW"] is False
        written = flow.post("/write", [Document(text="try")])
        assert written is not None
        assert written[0].docs[0].tags["write"] == "OSError: Read-only file system"
        assert not (tagger.parent / "written-by-tagger.txt").exists()

        # the containers' log lines are printed here, as a process's are
        err = capfd.readouterr().err
        for pea in ("p1/0", "p1/1"):
            assert re.search(rf"^{pea}@\d+\[I\]:ready and listening$", err, re.MULTILINE), err[-3000:]
        assert re.search(r"^p1/[01]@\d+\[I\]:TAGGER p1 tags 1 docs$", err, re.MULTILINE)
    assert containers(docker_engine, flow=flow.flow_id) == []
    assert "p1/0@" in capfd.readouterr().err  # its last lines, at the stop, too


def test_relative_executor_yaml_is_found_from_the_flow_directory(
        docker_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``uses: ./enc.yml`` means the file next to where the Flow runs, as for a process; the
    container gets its absolute path, and only that folder is mounted, not the directory."""
    work = tmp_path / "work"
    write_tagger(work / "enc", name="enc.yml")
    monkeypatch.chdir(work)
    flow = Flow().add(name="enc", uses="./enc/enc.yml", image=IMAGE)
    with flow:
        (box,) = containers(docker_engine, flow=flow.flow_id)
        assert [m["Destination"] for m in box.attrs["Mounts"]] == [str(work / "enc")]
        results = flow.index([Document(text="relative")])
        assert results is not None and results[0].docs[0].tags["pods"] == ["enc"]
    assert "uses: ./enc/enc.yml" in flow.to_yaml()  # the user's spec is kept as written


def test_missing_executor_yaml_of_an_image_pod_is_reported_before_any_start(
        docker_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mesh.errors import ExecutorNotFoundError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExecutorNotFoundError) as err:
        Flow().add(name="enc", uses="./nothing.yml", image=IMAGE).start()
    assert "pod 'enc'" in err.value.message and "nothing.yml" in err.value.message
