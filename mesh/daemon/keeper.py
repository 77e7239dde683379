"""Keep the embedded nats-server running: restart it when it dies, on its port and store.

A thread of its own waits on the server's process. When it ends and jinad is not stopping,
the keeper starts it again with the same port, JetStream store and users (clients of the
mesh reconnect by themselves), with a back-off between failed attempts, and logs each step.
The keeper's thread lives as long as jinad: the restarted server's parent-death signal is
bound to the thread that started it (see :func:`mesh.daemon.broker.die_with_parent`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mesh.daemon.broker import NatsServer, NatsServerError

__all__ = ["BrokerKeeper"]

logger = logging.getLogger(__name__)


class BrokerKeeper:
    """``start()`` after the server started; ``stop()`` stops both (never raises)."""

    def __init__(self, server: NatsServer, *, first_delay_s: float = 0.2, max_delay_s: float = 5.0,
                 on_restart: Callable[[NatsServer], None] | None = None) -> None:
        self.server = server
        self.first_delay_s, self.max_delay_s = first_delay_s, max_delay_s
        self.on_restart = on_restart
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never overlap
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"BrokerKeeper({self.server!r}, restarts={self.restarts})"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="nats-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            pid, code = self.server.pid, self.server.wait()
            if self._stopping.is_set() or pid is None:  # stopping, or nothing to keep
                return
            lost = time.monotonic()
            logger.warning("the embedded nats-server (pid %s) exited with code %s; restarting it "
                           "on port %d", pid, code, self.server.port)
            if self._restart():
                self.restarts += 1
                logger.warning("the embedded nats-server is back on port %d (pid %s) after %.2f s",
                               self.server.port, self.server.pid, time.monotonic() - lost)
                if self.on_restart is not None:
                    self.on_restart(self.server)

    def _restart(self) -> bool:
        """Try until it is up or jinad stops; True when it is up."""
        delay = self.first_delay_s
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return False
                try:
                    self.server.restart()
                    return True
                except NatsServerError as exc:
                    why = exc.message.splitlines()[0].removesuffix("; its output:")
                    last = (exc.detail.get("output") or [""])[-1]
                    logger.warning("the embedded nats-server did not restart (retrying in %.1f s): "
                                   "%s: %s", delay, why, last)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_delay_s)
        return False

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop watching, then stop the server."""
        self._stopping.set()
        with self._lock:
            self.server.stop(grace_s=grace_s)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=grace_s + 5)
