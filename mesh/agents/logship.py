"""Every line a Pea writes becomes one LogRecord on ``jinad.logs.<flow>.<pod>.<pea>``.

Reader threads hand lines over with ``ship()``; one asyncio task publishes them
in order. The queue is unbounded: a slow broker delays lines, it never drops them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.models import LogRecord
from mesh.logs import parse_line

__all__ = ["LogShipper"]

logger = logging.getLogger(__name__)

LineSinkFn = Callable[[str], None]


class LogShipper:
    def __init__(self, *, bus: Bus, node: str, loop: asyncio.AbstractEventLoop) -> None:
        self.bus = bus
        self.node = node
        self.loop = loop
        self.queue: asyncio.Queue[LogRecord | None] = asyncio.Queue()
        self.shipped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self.loop.create_task(self._run(), name="logship")

    def sink(self, flow: str, pod: str, pea: str) -> LineSinkFn:
        def ship(line: str) -> None:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, self.record(flow, pod, pea, line))
        return ship

    def record(self, flow: str, pod: str, pea: str, line: str) -> LogRecord:
        parsed = parse_line(line)
        if parsed is None:
            return LogRecord(time=time.time(), level="INFO", node=self.node, flow=flow, pod=pod,
                             pea=pea, message=line, stream="stdout")
        return LogRecord(time=time.time(), level=parsed["level"], node=self.node, flow=flow, pod=pod,
                         pea=pea, message=parsed["message"], pid=parsed["pid"], stream="log")

    async def _run(self) -> None:
        while True:
            rec = await self.queue.get()
            if rec is None:
                return
            try:
                await self.bus.publish(subjects.logs(rec.flow, rec.pod, rec.pea), rec)
                self.shipped += 1
            except Exception as exc:  # noqa: BLE001 - keep shipping the next lines
                logger.warning("log line of %s/%s not shipped: %s", rec.pod, rec.pea, exc)

    async def stop(self) -> None:
        """Ship what is queued, then end."""
        if self._task is None:
            return
        self.queue.put_nowait(None)
        try:
            await asyncio.wait_for(self._task, 10)
        except asyncio.TimeoutError:
            logger.warning("%d log lines left unshipped at shutdown", self.queue.qsize())
            self._task.cancel()
