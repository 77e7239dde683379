"""Every line a Pea writes becomes one LogRecord on ``jinad.logs.<flow>.<pod>.<pea>``.

Reader threads hand lines over with ``sink(...)``; one asyncio task publishes them in order.
While the broker is away the lines wait here, in order, and go out when the connection is
back (nats-py reconnects by itself). The wait is bounded (``max_buffered`` lines): past it
the oldest lines give way, and once the broker is back each Pea that lost lines gets one
record saying how many, instead of silence. Counted in ``mesh_log_records_*_total``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

from prometheus_client import Counter

from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.models import LogRecord
from mesh.logs import parse_line

__all__ = ["LogShipper"]

logger = logging.getLogger(__name__)

LineSinkFn = Callable[[str], None]
Key = tuple[str, str, str]  # (flow, pod, pea)

SHIPPED = Counter("mesh_log_records_shipped_total", "Log records published on the bus")
HELD = Counter("mesh_log_records_buffered_total",
               "Log records that waited on the node while the broker was unreachable")
DROPPED = Counter("mesh_log_records_dropped_total",
                  "Log records dropped because the node's buffer was full")
MAX_BUFFERED = 500_000  # about 8 minutes of 1,000 lines/s


class LogShipper:
    def __init__(self, *, bus: Bus, node: str, loop: asyncio.AbstractEventLoop,
                 max_buffered: int = MAX_BUFFERED) -> None:
        self.bus = bus
        self.node = node
        self.loop = loop
        self.max_buffered = max_buffered
        self.queue: collections.deque[LogRecord] = collections.deque()
        self.dropped: collections.Counter[Key] = collections.Counter()
        self.shipped = self.held = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self.loop.create_task(self._run(), name="logship")

    def sink(self, flow: str, pod: str, pea: str) -> LineSinkFn:
        def ship(line: str) -> None:
            self.loop.call_soon_threadsafe(self._put, self.record(flow, pod, pea, line))
        return ship

    def record(self, flow: str, pod: str, pea: str, line: str) -> LogRecord:
        parsed = parse_line(line)
        if parsed is None:
            return LogRecord(time=time.time(), level="INFO", node=self.node, flow=flow, pod=pod,
                             pea=pea, message=line, stream="stdout")
        return LogRecord(time=time.time(), level=parsed["level"], node=self.node, flow=flow, pod=pod,
                         pea=pea, message=parsed["message"], pid=parsed["pid"], stream="log")

    def _put(self, rec: LogRecord) -> None:
        if len(self.queue) >= self.max_buffered:
            old = self.queue.popleft()
            self.dropped[(old.flow, old.pod, old.pea)] += 1
            DROPPED.inc()
        self.queue.append(rec)
        if not self.bus.is_connected:
            self.held += 1
            HELD.inc()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self.queue and not self.dropped:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self.bus.wait_connected()
            if self.dropped:
                await self._say_dropped()
            while self.queue and self.bus.is_connected:
                rec = self.queue[0]
                if not await self._publish(rec):
                    break
                self.queue.popleft()

    async def _publish(self, rec: LogRecord) -> bool:
        """True when the record went out; False (kept, in its place) when the broker is away."""
        try:
            await self.bus.publish(subjects.logs(rec.flow, rec.pod, rec.pea), rec)
        except Exception as exc:  # noqa: BLE001 - the connection broke: wait for it and retry
            logger.debug("log line of %s/%s waits for the broker: %s", rec.pod, rec.pea, exc)
            await asyncio.sleep(0.1)  # nats-py tells the disconnect through its own callback
            return False
        self.shipped += 1
        SHIPPED.inc()
        return True

    async def _say_dropped(self) -> None:
        """One record for each Pea that lost lines: how many."""
        for (flow, pod, pea), count in list(self.dropped.items()):
            rec = LogRecord(time=time.time(), level="WARNING", node=self.node, flow=flow, pod=pod,
                            pea=pea, stream="log",
                            message=f"{count} log lines of {pea} were dropped on node {self.node}: "
                                    f"the broker was unreachable and the node's buffer of "
                                    f"{self.max_buffered} lines was full")
            if not await self._publish(rec):
                return
            del self.dropped[(flow, pod, pea)]

    async def stop(self, *, timeout_s: float = 10.0) -> None:
        """Ship what is queued, then end."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._task, timeout_s)
        except asyncio.TimeoutError:
            logger.warning("%d log lines left unshipped at shutdown (broker unreachable)",
                           len(self.queue))
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
