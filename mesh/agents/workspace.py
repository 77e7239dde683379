"""A flow's uploaded files on the node that runs its pods, relative paths kept.

A workspace is always ``<state dir>/workspace/<flow id>``: the id must be a name
(:func:`mesh.names.check_id`), and every path is checked, once resolved (links included),
to stay inside it."""

from __future__ import annotations

import base64
import binascii
import shutil
from pathlib import Path, PurePosixPath

from mesh.errors import BadRequestError
from mesh.names import check_id

__all__ = ["remove_workspace", "write_workspace"]


def write_workspace(state_dir: Path, flow_id: str, files: dict[str, str]) -> Path | None:
    """Write base64 ``files`` under ``state_dir/workspace/<flow_id>``; None when there are none."""
    if not files:
        return None
    root = workspace_of(state_dir, flow_id)
    existed = root.exists()  # other pods of the flow run here: their files stay
    try:
        for name, data in files.items():
            rel = PurePosixPath(name)
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                raise BadRequestError(f"file {name!r} would leave the flow's folder",
                                      detail={"file": name})
            path = _inside(root, root.joinpath(*rel.parts))
            path.parent.mkdir(parents=True, exist_ok=True)
            _inside(root, path.parent)
            path.write_bytes(_content(name, data))
    except BaseException:
        if not existed:
            remove_workspace(state_dir, flow_id)
        raise
    return root


def _content(name: str, data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError(f"file {name!r} is not base64: {exc}", detail={"file": name}) from exc


def workspace_of(state_dir: Path, flow_id: str) -> Path:
    """The flow's workspace folder (not created); InvalidNameError for an id that is no name."""
    base = (state_dir / "workspace").resolve()
    return _inside(base, base / check_id(flow_id, "flow id"))


def remove_workspace(state_dir: Path, flow_id: str) -> None:
    shutil.rmtree(workspace_of(state_dir, flow_id), ignore_errors=True)


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise BadRequestError(f"{path} would leave the folder {root}", detail={"path": str(path)})
    return resolved
