"""Fixtures shared by the integration tests of the ``mesh`` command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import MeshProcess


@pytest.fixture
def mesh_process(tmp_path: Path) -> Iterator[Callable[..., MeshProcess]]:
    """Long-running ``mesh`` commands, killed at teardown if still running."""
    started: list[MeshProcess] = []

    def start(*args: str) -> MeshProcess:
        proc = MeshProcess(list(args), tmp_path / f"mesh-{len(started)}.stderr")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
