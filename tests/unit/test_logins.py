"""A rotation outlives the flags that predate it: at start, the login file's users replace the
ones they took over from, and only those."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mesh.daemon.logins import LOGIN_FILE, Login, LoginFile, at_start, read_logins, write_logins

pytestmark = pytest.mark.unit

FLAGS = {"user": "node-b", "password": "old", "token": None}


def _file(tmp_path: Path) -> None:
    write_logins(tmp_path, LoginFile(id="x", node=Login(user="node-b-2", password="new"),
                                     edge=Login(user="edge-b-2", password="new-e"),
                                     replaces={"node": "node-b", "edge": "edge-b"}))


def test_the_file_replaces_the_user_it_took_over_from(tmp_path: Path) -> None:
    _file(tmp_path)
    assert stat.S_IMODE((tmp_path / LOGIN_FILE).stat().st_mode) == 0o600
    assert at_start(tmp_path, "node", FLAGS) == {**FLAGS, "user": "node-b-2", "password": "new"}
    assert at_start(tmp_path, "edge", {"user": "edge-b-2", "password": "?"})["password"] == "new-e"
    assert repr(read_logins(tmp_path)).count("new") == 0  # never a password in a log line


def test_flags_naming_another_user_win(tmp_path: Path) -> None:
    _file(tmp_path)
    assert at_start(tmp_path, "node", {**FLAGS, "user": "node-c"}) == {**FLAGS, "user": "node-c"}
    assert at_start(tmp_path, "node", {"token": "t"}) == {"token": "t"}


def test_no_file_or_a_broken_one_leaves_the_flags(tmp_path: Path) -> None:
    assert at_start(tmp_path, "node", FLAGS) == FLAGS
    (tmp_path / LOGIN_FILE).write_text("{not json")
    assert read_logins(tmp_path) is None and at_start(tmp_path, "node", FLAGS) == FLAGS
