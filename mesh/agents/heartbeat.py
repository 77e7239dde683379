"""The node's presence in the mesh: its NodeInfo in the nodes bucket, renewed every
``interval_s`` (the bucket's TTL drops a node that stops), and at once when what it runs
changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mesh.agents.nodeinfo import node_info
from mesh.events.kv import NodeRegistry

__all__ = ["Heartbeat"]

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, *, nodes: NodeRegistry, name: str, address: str, port: int,
                 labels: dict[str, str], version: str, started: float, interval_s: float,
                 peas: Callable[[], int], failed: Callable[[], list[str]],
                 edge_key: str | None = None, instance: str = "",
                 failures: Callable[[], dict[str, str]] = dict,
                 restarts: Callable[[], dict[str, int]] = dict,
                 pods: Callable[[], list[str]] = list,
                 cordoned: Callable[[], bool] = bool,
                 down: Callable[[], list[str]] = list) -> None:
        self.nodes = nodes
        self.name, self.address, self.port, self.labels = name, address, port, labels
        self.version, self.started, self.edge_key = version, started, edge_key
        self.instance = instance  # the state dir's key (mesh.daemon.instance)
        self.interval_s = interval_s
        self.peas, self.failed = peas, failed
        self.failures, self.restarts, self.pods = failures, restarts, pods
        self.cordoned, self.down = cordoned, down
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        """Publish this node's record now (raises when the broker cannot take it)."""
        await self.nodes.put(node_info(name=self.name, address=self.address, port=self.port,
                                       labels=self.labels, version=self.version,
                                       started=self.started, peas=self.peas(),
                                       failed=self.failed(), edge_key=self.edge_key,
                                       instance=self.instance, failures=self.failures(),
                                       restarts=self.restarts(), pods=self.pods(),
                                       cordoned=self.cordoned(), down=self.down()))

    async def beat_soon(self) -> None:
        """Publish now, or log why not: the broker may be away (nats-py reconnects)."""
        try:
            await self.beat()
        except Exception as exc:  # noqa: BLE001 - the next beat tries again
            logger.warning("heartbeat not published: %s", exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.beat_soon()

    async def stop(self) -> None:
        """Stop beating and leave the mesh at once (no waiting for the TTL)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.nodes.delete(self.name)
        except Exception as exc:  # noqa: BLE001 - the broker is away: the TTL removes us
            logger.debug("node record not removed: %s", exc)
