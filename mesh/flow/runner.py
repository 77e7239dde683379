"""Starting the Peas of a planned Flow on this machine, and stopping them in order."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mesh.launchers.base import LineSink, PeaHandle
from mesh.launchers.factory import Launch, make_pea, start_peas, stop_all
from mesh.launchers.ready import ctrl_keys, wait_all_ready
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = ["LocalRunner"]

logger = logging.getLogger(__name__)


class LocalRunner:
    """Owns the Peas of one Flow: all start together, all stop, nothing is left."""

    def __init__(self, *, sink: LineSink | None = None, stop_grace_s: float = 3.0,
                 launch: Launch = make_pea) -> None:
        self.sink = sink
        self.stop_grace_s = stop_grace_s
        self.launch = launch
        self.peas: list[PeaHandle] = []

    def start_all(self, configs: Sequence[PeaConfig | GatewayConfig],
                  timeouts_s: Sequence[float]) -> None:
        """Start every Pea in parallel and wait for all at once; on the first failure every
        Pea is stopped and the error (naming the Pea and why) is raised as it came."""
        try:
            self.peas.extend(self.launch(cfg, sink=self.sink) for cfg in configs)
            start_peas(self.peas)
            wait_all_ready(self.peas, timeouts_s, keys=ctrl_keys(configs))
        except BaseException:
            self.stop()
            raise

    def dead(self) -> list[PeaHandle]:
        return [p for p in self.peas if p.returncode is not None]

    def stop(self) -> None:
        """Stop every Pea, the last started first; never raises."""
        stop_all(list(reversed(self.peas)), self.stop_grace_s)
        self.peas.clear()
