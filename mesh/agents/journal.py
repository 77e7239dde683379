"""What this node was asked to run, kept so that its next life re-creates it.

Each spawn a node carries out (but a leased one: its owner renews it, and a lapsed lease
ends it) is kept as it came, in ``<state dir>/spawns/<flow id>/<pod>.json`` (0600: the
Pea configs hold the Flow's keys), and dropped when the pod is stopped by a kill or a
lease's end. A jinad that stops, crashes or is killed loses its Peas (they follow their
parent); when it starts again on the same state dir, it re-creates each kept pod whose
Flow still names this node for it (:meth:`mesh.agents.agent.Agent._reconcile`), on the
same ports, so that its neighbours' sockets reconnect by themselves.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from mesh.errors import MeshError
from mesh.events import codec
from mesh.events.models import SpawnRequest
from mesh.names import check_id, check_name
from mesh.private import write_private

__all__ = ["Journal"]

logger = logging.getLogger(__name__)


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "spawns"

    def _path(self, flow_id: str, pod: str | None = None) -> Path:
        folder = self.root / check_id(flow_id, "flow id")
        return folder if pod is None else folder / f"{check_name(pod)}.json"

    def keep(self, req: SpawnRequest) -> None:
        path = self._path(req.flow_id, req.pod)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, codec.encode(req).decode())

    def forget(self, flow_id: str, pod: str | None = None) -> None:
        """Drop the flow's kept spawns (``pod``: that one), and its folder once empty."""
        folder = self._path(flow_id)
        if pod is None:
            shutil.rmtree(folder, ignore_errors=True)
            return
        self._path(flow_id, pod).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:  # other pods of the flow are kept, or it is gone already
            pass

    def entries(self) -> list[SpawnRequest]:
        """Every kept spawn; one that cannot be read is logged and dropped."""
        found = []
        for path in sorted(self.root.glob("*/*.json")):
            try:
                found.append(codec.decode(path.read_bytes(), SpawnRequest))
            except (OSError, ValueError, MeshError) as exc:
                logger.warning("kept spawn %s cannot be read, dropped: %s", path, exc)
                path.unlink(missing_ok=True)
        return found
