"""A flow's uploaded files on the node that runs its pods, relative paths kept."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path, PurePosixPath

from mesh.errors import BadRequestError

__all__ = ["remove_workspace", "write_workspace"]


def write_workspace(state_dir: Path, flow_id: str, files: dict[str, str]) -> Path | None:
    """Write base64 ``files`` under ``state_dir/workspace/<flow_id>``; None when there are none."""
    if not files:
        return None
    root = state_dir / "workspace" / flow_id
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise BadRequestError(f"file {name!r} would leave the flow's folder")
        path = root.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
    return root


def remove_workspace(state_dir: Path, flow_id: str) -> None:
    shutil.rmtree(state_dir / "workspace" / flow_id, ignore_errors=True)
