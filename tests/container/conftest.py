"""Fixtures of the container tests: a real Docker engine, or a skip that says why.

``docker_engine`` (session) answers with a Docker SDK client once the engine answers a
ping and has the project image (``MESH_IMAGE``, default ``jinad-mesh:latest``; build it
with ``bash .ci/build-images.sh``). Without either the tests are skipped with the reason,
unless ``MESH_REQUIRE_DOCKER=1`` (CI), where they fail instead. No image is ever pulled.

Every test is checked at teardown: no container labelled ``mesh`` that the test made (by
a local Flow of this process, or a jinad node of this run) may be left; any found is
removed, and the test fails naming it. Containers of other runs on the engine are left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.container.support import IMAGE, LABEL, RUN_ID, containers, write_tagger
from tests.fixtures.waiting import wait_for

REQUIRE = os.environ.get("MESH_REQUIRE_DOCKER") == "1"

# An image whose `python` exits at once (code 3, one line on stderr), and one without python.
EXITS_IMAGE = f"mesh-test-exits:{RUN_ID}"
NO_PYTHON_IMAGE = f"mesh-test-nopython:{RUN_ID}"


def _unavailable(why: str) -> None:
    if REQUIRE:
        pytest.fail(f"MESH_REQUIRE_DOCKER=1 but {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """The engine's client, as the code under test gets it (``DOCKER_HOST`` or the default
    socket); shared with that code, so it is left open."""
    from mesh.errors import UnavailableError
    from mesh.launchers.docker import docker_client

    try:
        client = docker_client()
    except UnavailableError as exc:
        _unavailable(f"{exc.message}; start one with .ci/docker-setup.sh")
    import docker.errors

    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"image {IMAGE} is not on the engine; build it with `bash .ci/build-images.sh`")
    return client


def _ours(box: Any) -> bool:
    """A container this run made: started by this process (a local Flow), or by one of this
    run's jinad nodes (named with RUN_ID). Another run's containers are not ours to judge."""
    owner_pid = box.labels.get(f"{LABEL}.owner", "").rpartition(":")[2]
    return owner_pid == str(os.getpid()) or RUN_ID in box.labels.get(f"{LABEL}.node", "")


@pytest.fixture(autouse=True)
def no_container_left(docker_engine: Any) -> Iterator[None]:
    """Fail a test that leaves a ``mesh`` container behind (and remove what it left)."""
    before = {c.id for c in containers(docker_engine)}
    yield

    def left_now() -> list[Any]:
        return [c for c in containers(docker_engine) if c.id not in before and _ours(c)]

    with contextlib.suppress(AssertionError):  # what is left is removed and reported below
        wait_for(lambda: not left_now(), timeout_s=5, interval_s=0.1,
                 what="the containers of this test to go")
    left = left_now()
    names = [f"{c.name} ({c.labels.get(f'{LABEL}.pea')}, {c.status})" for c in left]
    for c in left:
        c.remove(force=True)
    assert not left, f"containers left behind: {names}"


@pytest.fixture(scope="session")
def test_images(docker_engine: Any) -> Iterator[dict[str, str]]:
    """Two images made from the project image without any pull: one whose ``python`` prints
    a line and exits with code 3, one with no ``python`` on its PATH."""
    images = {
        EXITS_IMAGE: (f"FROM {IMAGE}\n"
                      "COPY python /exit-now/python\n"
                      "ENV PATH=/exit-now:/usr/bin:/bin\n"),
        NO_PYTHON_IMAGE: f"FROM {IMAGE}\nENV PATH=/nowhere\n",
    }
    script = b"#!/bin/sh\necho 'this image exits at once' >&2\nexit 3\n"
    built = []
    try:
        for tag, dockerfile in images.items():
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for name, data, mode in (("Dockerfile", dockerfile.encode(), 0o644),
                                         ("python", script, 0o755)):
                    info = tarfile.TarInfo(name)
                    info.size, info.mode = len(data), mode
                    tar.addfile(info, io.BytesIO(data))
            buf.seek(0)
            docker_engine.images.build(fileobj=buf, custom_context=True, tag=tag, pull=False,
                                       rm=True, forcerm=True)
            built.append(tag)
        yield {"exits": EXITS_IMAGE, "no_python": NO_PYTHON_IMAGE}
    finally:
        for tag in built:
            with contextlib.suppress(Exception):  # already gone
                docker_engine.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executor YAML (absolute path) whose ``py_modules`` sit next to it."""
    return write_tagger(tmp_path_factory.mktemp("tagger"))
