"""Ids and names are names, never paths: one rule (mesh.names) for subjects, files and
containers; workspaces stay under the state dir."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from mesh.agents.workspace import remove_workspace, workspace_of, write_workspace
from mesh.errors import BadRequestError, InvalidNameError
from mesh.events.models import KillRequest, SpawnRequest
from mesh.names import check_id, check_name

pytestmark = pytest.mark.unit

BAD_IDS = ["/some/dir", "../up", "a/b", "", ".", "a.b", "x>", "a b", "-lead", "é" * 3, "a" * 129]


@pytest.mark.parametrize("value", ["cdd53e16-5575-11eb-86b2-0ab9db700358", "0f" * 16, "f1-enc_2"])
def test_ids_of_the_seed_and_of_remote_pods_pass(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize("value", [*BAD_IDS, None, 7, {"a": 1}])
def test_anything_else_is_a_400_naming_the_value(value: object) -> None:
    with pytest.raises(InvalidNameError) as err:
        check_id(value, "flow id")
    assert err.value.status == 400 and isinstance(err.value, ValueError)
    assert err.value.message.startswith(f"flow id {value!r} must be letters, digits")


def test_pod_names_are_dns_labels() -> None:
    assert check_name("a" * 63) == "a" * 63
    with pytest.raises(InvalidNameError):
        check_name("a" * 64)


@pytest.mark.parametrize("value", BAD_IDS)
def test_bus_commands_refuse_ids_that_are_not_names(value: str) -> None:
    with pytest.raises(ValidationError):
        KillRequest(flow_id=value)
    with pytest.raises(ValidationError):
        SpawnRequest(flow_id=value, pod="p")
    with pytest.raises(ValidationError):
        SpawnRequest(flow_id="f1", pod=value)


def test_a_workspace_is_always_under_the_state_dir(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    for bad in ("/" + str(victim).lstrip("/"), "../victim", str(victim)):
        with pytest.raises(InvalidNameError):
            workspace_of(tmp_path / "state", bad)
        with pytest.raises(InvalidNameError):
            remove_workspace(tmp_path / "state", bad)
    assert (victim / "keep.txt").exists()
    assert workspace_of(tmp_path / "state", "f1") == (tmp_path / "state" / "workspace" / "f1").resolve()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_files_cannot_leave_the_workspace_also_through_a_link(tmp_path: Path) -> None:
    state = tmp_path / "state"
    outside = tmp_path / "outside"
    outside.mkdir()
    root = write_workspace(state, "f1", {"ok.py": _b64("x = 1")})
    assert root is not None and (root / "ok.py").read_text() == "x = 1"
    (root / "link").symlink_to(outside)
    for name in ("../escape.py", "/etc/escape.py", "link/escape.py"):
        with pytest.raises(BadRequestError):
            write_workspace(state, "f1", {name: _b64("bad")})
    assert list(outside.iterdir()) == []


def test_a_failed_write_leaves_no_workspace(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(BadRequestError):
        write_workspace(state, "f2", {"a.py": _b64("a"), "../b.py": _b64("b")})
    assert not (state / "workspace" / "f2").exists()
