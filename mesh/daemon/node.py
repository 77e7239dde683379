"""One jinad node: its broker connection (or embedded broker), agent and deployer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from mesh.agents.agent import Agent
from mesh.agents.reconcile import stop_leftover_broker
from mesh.daemon.broker import NatsServer
from mesh.daemon.settings import Settings
from mesh.events.bus import Bus
from mesh.scheduler.deployer import Deployer

__all__ = ["Node"]

logger = logging.getLogger("jinad")


class Node:
    def __init__(self, *, settings: Settings, address: str, version: str) -> None:
        self.settings = settings
        self.address = address
        self.version = version
        self.nats: NatsServer | None = None
        self.nats_url = settings.nats or ""
        self.bus: Bus | None = None
        self._agent: Agent | None = None
        self._deployer: Deployer | None = None

    @property
    def agent(self) -> Agent:
        assert self._agent is not None, "node not started"
        return self._agent

    @property
    def deployer(self) -> Deployer:
        assert self._deployer is not None, "node not started"
        return self._deployer

    def start_broker(self) -> None:
        """Start the embedded nats-server when no broker URL is configured."""
        if self.settings.nats:
            return
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        stop_leftover_broker(s.state_dir / "nats")
        self.nats = NatsServer(host="0.0.0.0", port=s.nats_port, store_dir=s.state_dir / "nats")
        try:
            self.nats.start()
        except Exception:
            if s.nats_port == 0:
                raise
            logger.warning("port %d is taken; the embedded nats-server takes a free port", s.nats_port)
            self.nats = NatsServer(host="0.0.0.0", port=0, store_dir=s.state_dir / "nats")
            self.nats.start()
        self.nats_url = f"nats://127.0.0.1:{self.nats.port}"
        logger.info("embedded nats-server on port %d (others join with --nats nats://%s:%d)",
                    self.nats.port, self.address, self.nats.port)

    async def _connect(self, name: str) -> Bus:
        s = self.settings
        return await Bus.connect(
            self.nats_url, name=name, user=s.nats_user, password=s.nats_password,
            token=s.nats_token, creds=s.nats_creds, tls_ca=s.nats_tls_ca, tls_cert=s.nats_tls_cert,
            tls_key=s.nats_tls_key)

    def check_broker(self) -> None:
        """Connect once and leave, before the edge starts: a broker that cannot be reached or
        that refuses the credentials is then a one-line error (BusConnectError), not a
        traceback out of the web server's startup."""
        async def probe() -> None:
            bus = await self._connect(f"jinad-{self.settings.name}-check")
            await bus.close()

        asyncio.run(probe())

    async def start(self) -> None:
        s = self.settings
        self.bus = await self._connect(f"jinad-{s.name}")
        self._agent = Agent(
            bus=self.bus, name=s.name, address=self.address, port=s.port, labels=s.labels,
            state_dir=s.state_dir, version=self.version, heartbeat_interval_s=s.heartbeat_interval_s,
            node_ttl_s=s.node_ttl_s, stop_grace_s=s.stop_grace_s, log_max_age_s=s.log_max_age_s,
            log_max_bytes=s.log_max_bytes, nats_replicas=s.nats_replicas)
        await self._agent.start()
        self._deployer = Deployer(bus=self.bus, node=s.name, nodes=self._agent.nodes,
                                  flows=self._agent.flows, spawn_timeout_s=s.spawn_timeout_s,
                                  files=self._agent.files, register=self._agent.heartbeat)

    async def stop(self) -> None:
        if self._agent is not None:
            await self._agent.stop()
        if self.bus is not None:
            await self.bus.drain()

    def stop_broker(self) -> None:
        if self.nats is not None:
            self.nats.stop()

    def kill_broker(self) -> None:
        """SIGKILL the embedded nats-server at once (jinad is exiting without a clean stop)."""
        pid = self.nats.pid if self.nats is not None else None
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
