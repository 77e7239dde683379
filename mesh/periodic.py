"""A coroutine run every ``period_s`` on the event loop until stopped: the heartbeat, the
liveness probe, the watch on a running jinad's NATS login file."""

from __future__ import annotations

import asyncio
import logging

__all__ = ["Periodic"]

logger = logging.getLogger(__name__)


class Periodic:
    """Subclasses give ``tick()``; ``start()`` runs it every ``period_s`` (after a first
    wait); a tick that raises is logged and the next one runs; ``await stop()`` cancels."""

    name = "periodic"

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - one bad round must not end the loop
                logger.exception("%s failed", self.name)
