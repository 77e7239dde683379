"""One jinad node: its broker connection (or embedded broker), agent, deployer and edge.

:func:`wire` turns the settings into the keyword arguments of each component, in one
place and without starting anything; :class:`Node` builds and runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from mesh.agents.agent import Agent
from mesh.agents.reconcile import stop_leftover_broker
from mesh.daemon.broker import NatsServer
from mesh.daemon.settings import Settings
from mesh.events.bus import Bus
from mesh.events.signing import Signer
from mesh.http.context import EdgeServices
from mesh.http.logreader import LogReader
from mesh.scheduler.deployer import Deployer

__all__ = ["Node", "Wiring", "advertised_address", "wire"]

logger = logging.getLogger("jinad")

EDGE_KEY_FILE = "edge.nk"  # in the state dir, 0600: the seed of the key this edge signs with


def advertised_address(settings: Settings) -> str:
    """The address other nodes and clients dial: ``advertise_host``, else the bound host,
    else the first private address."""
    if settings.advertise_host:
        return settings.advertise_host
    if settings.host not in ("0.0.0.0", "::", ""):
        return settings.host
    from mesh.flow.banner import private_addresses

    found = private_addresses()
    return found[0] if found else "127.0.0.1"


@dataclass(frozen=True)
class Wiring:
    """What each component is built with (keyword arguments), from one Settings."""

    name: str
    address: str
    log_level: str
    nats_url: str | None  # None: the embedded broker, built with ``broker``
    broker: dict[str, Any]    # NatsServer(**broker)
    bus: dict[str, Any]       # Bus.connect(url, name=..., **bus)
    agent: dict[str, Any]     # Agent(bus=..., **agent)
    deployer: dict[str, Any]  # Deployer(bus=..., nodes=..., flows=..., files=..., register=..., **deployer)
    edge: dict[str, Any]      # create_app(**edge)
    server: dict[str, Any]    # app.run(**server)


def wire(settings: Settings, *, version: str) -> Wiring:
    s = settings
    address = advertised_address(s)
    return Wiring(
        name=s.name, address=address, log_level=s.log_level, nats_url=s.nats,
        broker={"host": "0.0.0.0", "port": s.nats_port, "store_dir": s.state_dir / "nats"},
        bus={"user": s.nats_user, "password": s.nats_password, "token": s.nats_token,
             "creds": s.nats_creds, "tls_ca": s.nats_tls_ca, "tls_cert": s.nats_tls_cert,
             "tls_key": s.nats_tls_key},
        agent={"name": s.name, "address": address, "port": s.port, "labels": s.labels,
               "state_dir": s.state_dir, "version": version,
               "heartbeat_interval_s": s.heartbeat_interval_s, "node_ttl_s": s.node_ttl_s,
               "stop_grace_s": s.stop_grace_s, "log_max_age_s": s.log_max_age_s,
               "log_max_bytes": s.log_max_bytes, "nats_replicas": s.nats_replicas,
               "trusted_keys_file": s.trusted_keys},
        deployer={"node": s.name, "spawn_timeout_s": s.spawn_timeout_s,
                  "ready_timeout_s": s.ready_timeout_s},
        edge={"name": s.name, "address": address, "version": version, "token": s.token,
              "max_upload_bytes": s.max_upload_bytes, "default_lease_s": s.lease_s,
              "insecure": s.insecure, "spawn_timeout_s": s.spawn_timeout_s,
              "allow_uses": s.allow_uses, "allow_images": s.allow_images,
              "no_uploads": s.no_uploads},
        server={"host": s.host, "port": s.port,
                "ssl": {"cert": s.tls_cert, "key": s.tls_key} if s.tls_cert else None},
    )


class Node:
    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring
        self.address = wiring.address
        self.nats: NatsServer | None = None
        self.nats_url = wiring.nats_url or ""
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
        if self.wiring.nats_url:
            return
        broker = self.wiring.broker
        broker["store_dir"].parent.mkdir(parents=True, exist_ok=True)
        stop_leftover_broker(broker["store_dir"])
        self.nats = NatsServer(**broker)
        try:
            self.nats.start()
        except Exception:
            if broker["port"] == 0:
                raise
            logger.warning("port %d is taken; the embedded nats-server takes a free port", broker["port"])
            self.nats = NatsServer(**{**broker, "port": 0})
            self.nats.start()
        self.nats_url = f"nats://127.0.0.1:{self.nats.port}"
        logger.info("embedded nats-server on port %d (others join with --nats nats://%s:%d)",
                    self.nats.port, self.address, self.nats.port)

    async def _connect(self, name: str) -> Bus:
        return await Bus.connect(self.nats_url, name=name, **self.wiring.bus)

    def check_broker(self) -> None:
        """Connect once and leave, before the edge starts: a broker that cannot be reached or
        that refuses the credentials is then a one-line error (BusConnectError), not a
        traceback out of the web server's startup."""
        async def probe() -> None:
            bus = await self._connect(f"jinad-{self.wiring.name}-check")
            await bus.close()

        asyncio.run(probe())

    async def start(self) -> None:
        self.bus = await self._connect(f"jinad-{self.wiring.name}")
        # the edge's key: every command it sends is signed with it (mesh/events/signing.py)
        self.bus.signer = await asyncio.to_thread(
            Signer.load_or_create, self.wiring.agent["state_dir"] / EDGE_KEY_FILE)
        self._agent = Agent(bus=self.bus, edge_key=self.bus.signer.public_key, **self.wiring.agent)
        await self._agent.start()
        self._deployer = Deployer(bus=self.bus, nodes=self._agent.nodes, flows=self._agent.flows,
                                  files=self._agent.files, register=self._agent.heartbeat.beat,
                                  **self.wiring.deployer)

    def edge_services(self) -> EdgeServices:
        """What the edge's handlers use, once started."""
        assert self.bus is not None, "node not started"
        return EdgeServices(deployer=self.deployer, nodes=self.agent,
                            logs=LogReader(self.bus.jetstream), broker=self.bus)

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
