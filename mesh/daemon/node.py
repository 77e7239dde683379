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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors

from mesh.agents.agent import Agent
from mesh.daemon.broker import NatsServer
from mesh.daemon.embedded import EmbeddedBroker
from mesh.daemon.instance import check_name, instance_key
from mesh.daemon.logins import LoginFile, LoginWatcher, at_start
from mesh.daemon.roles import Role, inbox_prefix
from mesh.daemon.settings import Settings
from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.errors import BusConnectError
from mesh.events.files import FlowFiles
from mesh.events.kv import FlowStore, NodeRegistry
from mesh.events.signing import Signer
from mesh.events.streams import ensure_log_stream
from mesh.http.context import EdgeServices
from mesh.http.logreader import LogReader
from mesh.scheduler.deployer import Deployer

__all__ = ["Node", "Wiring", "advertised_address", "wire"]

ROLE_PAIR: tuple[Role, Role] = ("edge", "node")  # a jinad's two connections, edge first

logger = logging.getLogger("jinad")

_DRAIN_S = 10.0

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
    bus: dict[str, Any]       # Bus.connect(url, name=..., **bus): the node's connection
    edge_bus: dict[str, Any]  # Bus.connect(url, name=..., **edge_bus): the edge's connection
    agent: dict[str, Any]     # Agent(bus=..., **agent)
    deployer: dict[str, Any]  # Deployer(bus=..., nodes=..., flows=..., files=..., register=..., **deployer)
    edge: dict[str, Any]      # create_app(**edge)
    server: dict[str, Any]    # app.run(**server)


def wire(settings: Settings, *, version: str) -> Wiring:
    s = settings
    address = advertised_address(s)
    return Wiring(
        name=s.name, address=address, log_level=s.log_level, nats_url=s.nats,
        broker={"host": s.nats_listen, "port": s.nats_port, "store_dir": s.state_dir / "nats"},
        bus={"user": s.nats_user, "password": s.nats_password, "token": s.nats_token,
             "creds": s.nats_creds, "tls_ca": s.nats_tls_ca, "tls_cert": s.nats_tls_cert,
             "tls_key": s.nats_tls_key},
        edge_bus={"user": s.nats_edge_user or s.nats_user,
                  "password": s.nats_edge_password if s.nats_edge_user else s.nats_password,
                  "token": s.nats_token, "creds": s.nats_edge_creds or s.nats_creds,
                  "tls_ca": s.nats_tls_ca, "tls_cert": s.nats_tls_cert, "tls_key": s.nats_tls_key},
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
              "no_uploads": s.no_uploads, "no_metrics": s.no_metrics},
        server={"host": s.host, "port": s.port,
                "ssl": {"cert": s.tls_cert, "key": s.tls_key} if s.tls_cert else None},
    )


def _no_record(**info: Any) -> None:
    pass


class Node:
    def __init__(self, wiring: Wiring, *, record: Callable[..., None] = _no_record) -> None:
        """``record(**info)`` keeps what ``jinad credentials`` reads about this jinad (its
        lock file: :meth:`mesh.daemon.lock.StateLock.record`)."""
        self.wiring = wiring
        self.record = record
        self._options: dict[Role, dict[str, Any]] = {}  # Bus.connect's login, per connection
        self._logins: LoginWatcher | None = None
        self.address = wiring.address
        self.nats: NatsServer | None = None
        self.embedded: EmbeddedBroker | None = None
        self.nats_url = wiring.nats_url or ""
        self.bus: Bus | None = None       # the node's connection: serves its commands
        self.edge_bus: Bus | None = None  # the edge's: sends commands, writes Flow records
        self.instance = ""  # the state dir's key (mesh/daemon/instance.py), read by check_broker
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
        """Start the embedded nats-server (with its users, and a keeper that restarts it)
        when no broker URL is configured."""
        state_dir = self.wiring.agent["state_dir"]
        if self.wiring.nats_url:
            self._options = {"node": at_start(state_dir, "node", self.wiring.bus),
                             "edge": at_start(state_dir, "edge", self.wiring.edge_bus)}
            return
        if self.wiring.bus.get("user") or self.wiring.bus.get("creds"):
            logger.warning("--nats-user/--nats-creds are for a broker given with --nats; the "
                           "embedded nats-server has its own users")
        a, b = self.wiring.agent, self.wiring.broker
        self.embedded = EmbeddedBroker(name=self.wiring.name, state_dir=a["state_dir"],
                                       address=self.address, **b)
        self.embedded.start()
        self.nats, self.nats_url = self.embedded.server, self.embedded.url
        self._options = {"node": self.embedded.login("node"), "edge": self.embedded.login("edge")}

    def _login(self, role: Role) -> dict[str, Any]:
        """Bus.connect's credentials for this jinad's node or edge connection."""
        if not self._options:  # start_broker() not called (a Node used for its connections)
            self._options = {"node": self.wiring.bus, "edge": self.wiring.edge_bus}
        options = self._options[role]
        return {**options, "inbox_prefix": inbox_prefix(options.get("user"), role=role,
                                                        node=self.wiring.name)}

    def _users(self) -> dict[str, str | None]:
        return {role: self._options[role].get("user") for role in ROLE_PAIR}

    async def switch_logins(self, logins: LoginFile) -> None:
        """Log both connections in as the users of ``logins``, each proven first with a
        connection of its own (a user the broker refuses leaves the old ones in use), and
        record what came of it (mesh/daemon/logins.py)."""
        assert self.bus is not None and self.edge_bus is not None, "node not started"
        buses = {"node": self.bus, "edge": self.edge_bus}
        try:
            for role in ROLE_PAIR:
                login = logins.login(role)
                probe = await Bus.connect(self.nats_url, name=f"jinad-{self.wiring.name}-login",
                                          **{**self._login(role), "user": login.user,
                                             "password": login.password})
                await probe.close()
            for role in ROLE_PAIR:
                login = logins.login(role)
                await buses[role].relogin(login.user, login.password)
                self._options[role] = {**self._options[role], "user": login.user,
                                       "password": login.password}
        except BusConnectError as exc:
            logger.error("NATS users %s not taken: %s", ", ".join(logins.users().values()),
                         exc.message)
            self.record(nats_login={"id": logins.id, "users": self._users(),
                                    "error": exc.message})
            return
        logger.info("this jinad logs in to NATS as %s now", ", ".join(logins.users().values()))
        self.record(nats_login={"id": logins.id, "users": self._users(), "error": None})

    async def _connect(self, name: str, role: Role = "node") -> Bus:
        return await Bus.connect(self.nats_url, name=name, **self._login(role))

    def check_broker(self) -> None:
        """Connect once as node and once as edge and leave, before the edge starts: a broker
        that cannot be reached, refuses a user, or knows this node's name under another state
        dir is then a one-line error (a MeshError), not a traceback out of the web server's
        startup."""
        name = self.wiring.name
        self.instance = instance_key(self.wiring.agent["state_dir"])

        async def probe() -> None:
            node = await self._connect(f"jinad-{name}-check")
            try:
                try:
                    if await check_name(node.jetstream, name, self.instance) is not None:
                        logger.info("node %s rejoins the mesh (its record from the previous life "
                                    "of this state dir is still live)", name)
                except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
                    raise BusConnectError(f"cannot read the mesh's node list as NATS user "
                                          f"{self._login('node').get('user')}: {exc}") from exc
                edge = await self._connect(f"jinad-{name}-check-edge", "edge")
                try:
                    await _may_serve(node, edge, name, self._login("node").get("user"))
                finally:
                    await edge.close()
            finally:
                await node.close()

        asyncio.run(probe())

    async def start(self) -> None:
        name, a = self.wiring.name, self.wiring.agent
        self.edge_bus = await self._connect(f"jinad-{name}-edge", "edge")
        # the edge's key: every command it sends is signed with it (mesh/events/signing.py)
        self.edge_bus.signer = await asyncio.to_thread(
            Signer.load_or_create, a["state_dir"] / EDGE_KEY_FILE)
        js, replicas = self.edge_bus.jetstream, a["nats_replicas"]
        # the edge sets up the mesh's streams (a node user may not change them)
        await ensure_log_stream(js, max_age_s=a["log_max_age_s"], max_bytes=a["log_max_bytes"],
                                replicas=replicas)
        flows, files = FlowStore(js, replicas=replicas), FlowFiles(js, replicas=replicas)
        nodes = NodeRegistry(js, ttl_s=a["node_ttl_s"], replicas=replicas)
        await nodes.open()
        self.bus = await self._connect(f"jinad-{name}")
        self._agent = Agent(bus=self.bus, edge_key=self.edge_bus.signer.public_key,
                            instance=self.instance or instance_key(a["state_dir"]),
                            flows=flows, files=files, **a)
        await self._agent.start()
        self._deployer = Deployer(bus=self.edge_bus, nodes=nodes, flows=flows, files=files,
                                  register=self._agent.heartbeat.beat, **self.wiring.deployer)
        self.record(nats_login={"id": None, "users": self._users(), "error": None})
        if self.bus.user is not None and self.edge_bus.user is not None:
            self._logins = LoginWatcher(a["state_dir"], self.switch_logins)
            self._logins.start()

    def edge_services(self) -> EdgeServices:
        """What the edge's handlers use, once started."""
        assert self.edge_bus is not None, "node not started"
        return EdgeServices(deployer=self.deployer, nodes=self.agent,
                            logs=LogReader(self.edge_bus.jetstream), broker=self.edge_bus)

    async def stop(self) -> None:
        """Stop the agent, then drain both connections (closed at once while the broker is
        away: nothing is left to flush)."""
        if self._logins is not None:
            await self._logins.stop()
        if self._agent is not None:
            await self._agent.stop()
        for bus in (self.bus, self.edge_bus):
            if bus is not None:
                await _leave(bus)

    def stop_broker(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    def kill_broker(self) -> None:
        """SIGKILL the embedded nats-server at once (jinad is exiting without a clean stop)."""
        pid = self.nats.pid if self.nats is not None else None
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


async def _may_serve(node: Bus, edge: Bus, name: str, user: str | None) -> None:
    """BusConnectError when the broker will not let ``node`` serve node ``name`` (a node user
    is bound to its node's name): said at start, not found out by a deaf node. The proof is
    a request from ``edge`` to ``jinad.ports.<name>`` that ``node`` answers; a subscription the
    broker refused leaves the subject without responders (its error may come later)."""
    subject = subjects.ports(name)

    async def answer(msg: Any) -> None:
        await msg.respond(b"")

    sub = await node.nc.subscribe(subject, cb=answer)
    try:
        for attempt in range(3):  # a loaded broker: "no responders" once is not yet a refusal
            await node.flush()
            try:
                await edge.nc.request(subject, b"", timeout=5)
                return
            except nats.errors.NoRespondersError:
                if attempt == 2 or "permissions violation" in str(node.nc.last_error).lower():
                    raise
    except nats.errors.NoRespondersError as exc:
        raise BusConnectError(
            f"NATS user {user} may not serve node {name} (the broker refused its subscription "
            f"to {subject}): pass the --name that user is for, or get a user for {name} "
            f"(`jinad credentials add-node {name}` where the broker runs)"
            + (f"; the broker said: {node.nc.last_error}" if node.nc.last_error else ""),
            detail={"user": user, "node": name}) from exc
    except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
        raise BusConnectError(f"NATS user {user} cannot be checked as node {name}: {exc}") from exc
    finally:
        await sub.unsubscribe()


async def _leave(bus: Bus) -> None:
    """Drain ``bus`` when it is connected, else close it; never raises (jinad is stopping)."""
    away = not bus.is_connected
    try:
        if away:
            logger.warning("%s: the broker is away; closing without draining", bus.name)
        else:
            await asyncio.wait_for(bus.drain(timeout_s=_DRAIN_S), _DRAIN_S + 5)
    except Exception as exc:  # noqa: BLE001 - report in one line and close
        logger.warning("%s did not drain: %s: %s", bus.name, type(exc).__name__, exc)
    try:
        await bus.close()
    except Exception as exc:  # noqa: BLE001 - a connection that is down has nothing to close
        logger.log(logging.DEBUG if away else logging.WARNING, "%s did not close: %s: %s",
                   bus.name, type(exc).__name__, exc)
