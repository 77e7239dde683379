"""After a restart: stop what the previous life of this node left running."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

__all__ = ["stop_leftovers"]

logger = logging.getLogger(__name__)


def stop_leftovers(state_dir: Path) -> int:
    """Kill the Peas recorded by a previous ``jinad`` with this state dir; return how many."""
    path = state_dir / "peas.json"
    try:
        books = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    owner = int(books.get("owner", 0))
    killed = 0
    for entry in books.get("peas", []):
        pid = int(entry.get("pid") or 0)
        if pid and _is_our_pea(pid, owner):
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
                logger.warning("stopped %s of flow %s (pid %d) left by a previous jinad",
                               entry.get("pea"), entry.get("flow"), pid)
            except (ProcessLookupError, PermissionError):
                pass
    path.unlink(missing_ok=True)
    return killed


def _is_our_pea(pid: int, owner: int) -> bool:
    """True only for a Pea process whose parent was the recorded jinad (pids get reused)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mesh.runtime.entry" in cmdline and f"MESH_PARENT_PID={owner}".encode() in environ
