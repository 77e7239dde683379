"""The liveness probe: a Pea whose process lives but whose control socket has been silent
for its pod's ``restart.liveness_s`` (a deadlock, a hung call, a stopped process) is
reported as hung, so that its node kills it and restarts it as it would a Pea that crashed.

Once a second, every Pea of a pod with ``liveness_s`` gets a ``status`` on its control
socket (open: no key needed), all at once, answered within half a second or not. The
Pea's loop answers between two requests, so an executor that works on one request for
longer than ``liveness_s`` is taken for hung: the policy is off unless a pod asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import zmq

from mesh.launchers.base import PeaHandle
from mesh.periodic import Periodic
from mesh.runtime.control import ControlClient

__all__ = ["Liveness"]

logger = logging.getLogger(__name__)

Targets = Callable[[], list[tuple[object, PeaHandle, float]]]  # (pod run, Pea, liveness_s)
OnHung = Callable[[object, PeaHandle, float], Awaitable[None]]  # (pod run, Pea, silent for s)


class Liveness(Periodic):
    name = "liveness probe"
    PERIOD_S = 1.0
    ANSWER_S = 0.5

    def __init__(self, targets: Targets, on_hung: OnHung) -> None:
        super().__init__(self.PERIOD_S)
        self.targets, self.on_hung = targets, on_hung
        self._heard: dict[int, tuple[PeaHandle, float]] = {}  # id(Pea) -> (Pea, last answer)

    async def tick(self) -> None:
        """One round: ping every Pea under a liveness policy; report those silent too long."""
        targets = [(run, pea, limit) for run, pea, limit in self.targets()
                   if pea.returncode is None]
        peas = [pea for _, pea, _ in targets]
        answered = await asyncio.to_thread(_ping_all, peas, self.ANSWER_S) if peas else set()
        now = time.monotonic()
        current = {id(pea) for pea in peas}
        self._heard = {k: v for k, v in self._heard.items() if k in current}
        for run, pea, limit in targets:
            seen = self._heard.get(id(pea))
            if seen is None or id(pea) in answered:
                self._heard[id(pea)] = (pea, now)  # first sight counts as an answer
                continue
            silent = now - seen[1]
            if silent >= limit:
                del self._heard[id(pea)]
                await self.on_hung(run, pea, silent)


def _ping_all(peas: list[PeaHandle], timeout_s: float) -> set[int]:
    """``id`` of each Pea whose control socket answered ``status`` within ``timeout_s``."""
    clients = {id(pea): ControlClient("127.0.0.1", pea.port_ctrl) for pea in peas}
    poller = zmq.Poller()
    by_sock = {}
    try:
        for key, client in clients.items():
            client.send("status")
            poller.register(client.sock, zmq.POLLIN)
            by_sock[client.sock] = key
        answered: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(answered) < len(clients):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for sock, _ in poller.poll(int(left * 1000) + 1):
                poller.unregister(sock)
                answered.add(by_sock[sock])
        return answered
    finally:
        for client in clients.values():
            client.close()
