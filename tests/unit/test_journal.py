"""A node keeps what it was asked to run, privately, and forgets it when the pod is stopped."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mesh.agents.journal import Journal
from mesh.errors import InvalidNameError
from mesh.events.models import SpawnRequest

pytestmark = pytest.mark.unit


def _req(flow: str, pod: str) -> SpawnRequest:
    return SpawnRequest(flow_id=flow, pod=pod, peas=[], ready_timeout_s=5)


def test_kept_spawns_come_back_as_they_were_and_go_when_forgotten(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for flow, pod in (("f1", "a"), ("f1", "gateway"), ("f2", "b")):
        journal.keep(_req(flow, pod))
    path = tmp_path / "spawns" / "f1" / "a.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted((r.flow_id, r.pod) for r in journal.entries()) == [
        ("f1", "a"), ("f1", "gateway"), ("f2", "b")]
    journal.forget("f1", "a")
    journal.forget("f2")
    assert [(r.flow_id, r.pod) for r in journal.entries()] == [("f1", "gateway")]
    journal.forget("f1", "gateway")
    assert not (tmp_path / "spawns" / "f1").exists()  # the empty folder goes too


def test_a_broken_entry_is_dropped_and_ids_are_names(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.keep(_req("f1", "a"))
    (tmp_path / "spawns" / "f1" / "b.json").write_text("{not json")
    assert [(r.flow_id, r.pod) for r in journal.entries()] == [("f1", "a")]
    assert not (tmp_path / "spawns" / "f1" / "b.json").exists()
    with pytest.raises(InvalidNameError):  # (a SpawnRequest's ids are checked when it is read)
        journal.forget("../escape")
