"""Whether a node takes new pods: a cordoned node keeps what it runs and is given nothing new
(mesh/scheduler/placer.py skips it). Kept in ``<state dir>/cordoned`` while it holds, so that
a restarted jinad is still cordoned."""

from __future__ import annotations

import time
from pathlib import Path

from mesh.private import write_private

__all__ = ["Cordon"]

CORDON_FILE = "cordoned"


class Cordon:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / CORDON_FILE
        self.cordoned = self.path.exists()

    def set(self, cordoned: bool) -> bool:
        """Cordon or uncordon; True when that changed something."""
        if cordoned == self.cordoned:
            return False
        if cordoned:
            write_private(self.path, f"cordoned at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        else:
            self.path.unlink(missing_ok=True)
        self.cordoned = cordoned
        return True
