"""Starting the Peas of a planned Flow on this machine, and stopping them in order."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from mesh.errors import MeshError
from mesh.launchers.factory import make_pea, start_peas
from mesh.launchers.process import LineSink, PeaProcess, stop_all, wait_all_ready
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = ["LocalRunner"]

logger = logging.getLogger(__name__)


class LocalRunner:
    """Owns the processes of one Flow: all start together, all stop, nothing is left."""

    def __init__(self, *, sink: LineSink | None = None, stop_grace_s: float = 3.0) -> None:
        self.sink = sink
        self.stop_grace_s = stop_grace_s
        self.peas: list[PeaProcess] = []

    def launch(self, configs: Iterable[PeaConfig | GatewayConfig]) -> list[PeaProcess]:
        started = [make_pea(cfg, sink=self.sink) for cfg in configs]
        self.peas.extend(started)
        start_peas(started)
        return started

    def wait_ready(self, peas: list[PeaProcess], timeouts_s: list[float]) -> None:
        """Wait for all at once; on the first failure the error names the Pea and why."""
        wait_all_ready(peas, timeouts_s)

    def dead(self) -> list[PeaProcess]:
        return [p for p in self.peas if p.returncode is not None]

    def stop(self) -> None:
        """Stop every Pea, the last started first; never raises."""
        stop_all(list(reversed(self.peas)), self.stop_grace_s)
        self.peas.clear()

    def start_all(self, configs: list[PeaConfig | GatewayConfig], timeouts_s: list[float]) -> None:
        try:
            procs = self.launch(configs)
            self.wait_ready(procs, timeouts_s)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, MeshError):
                raise exc from None
            raise
