"""Fixtures shared by integration tests: ``mesh`` commands, and one jinad per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import assert_clean
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


@pytest.fixture(scope="module")
def node(jinad_module_factory: Any) -> JinadNode:
    """One jinad (embedded NATS, on 127.0.0.1) shared by a module's tests."""
    return jinad_module_factory()


@pytest.fixture
def clean_node(node: JinadNode) -> Iterator[JinadNode]:
    """The shared node, checked after the test: up, no flow recorded, no Pea running."""
    yield node
    assert_clean(node)
