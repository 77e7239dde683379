"""jinad's own nats-server, when no ``--nats`` URL is given: its users, its start, its keeper.

The server listens on ``--nats-listen`` (loopback unless told otherwise) and always requires
the users of :mod:`mesh.daemon.credentials`, generated on first start. This jinad connects
twice, as its node user and as its edge user (:meth:`EmbeddedBroker.login`). A server that
dies is restarted on its port by :class:`~mesh.daemon.keeper.BrokerKeeper`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mesh.agents.reconcile import stop_leftover_broker
from mesh.daemon.broker import NatsServer
from mesh.daemon.credentials import Credentials, User
from mesh.daemon.keeper import BrokerKeeper
from mesh.daemon.roles import Role

__all__ = ["EmbeddedBroker", "is_loopback"]

logger = logging.getLogger("jinad")

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


class EmbeddedBroker:
    def __init__(self, *, name: str, state_dir: Path, address: str, host: str, port: int,
                 store_dir: Path) -> None:
        self.name, self.state_dir, self.address = name, state_dir, address
        self.host, self.port, self.store_dir = host, port, store_dir
        self.credentials = Credentials(state_dir)
        self.users: dict[Role, User] = {}
        self.server: NatsServer | None = None
        self.keeper: BrokerKeeper | None = None

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.server!r})"

    @property
    def url(self) -> str:
        """Where this jinad dials it (loopback, unless it listens on one address only)."""
        assert self.server is not None, "embedded broker not started"
        return self.server.url

    @property
    def join_url(self) -> str:
        """Where other machines dial it."""
        assert self.server is not None, "embedded broker not started"
        host = self.address if self.host in ("0.0.0.0", "::", "") else self.host
        return f"nats://{host}:{self.server.port}"

    def login(self, role: Role) -> dict[str, Any]:
        return self.users[role].login()

    def start(self) -> None:
        self.store_dir.parent.mkdir(parents=True, exist_ok=True)
        self.users = self.credentials.own(self.name)  # made on first start; the config too
        stop_leftover_broker(self.store_dir)
        self.server = self._started(self.port)
        self.keeper = BrokerKeeper(self.server)
        self.keeper.start()
        logger.info("embedded nats-server on port %d, listening on %s, users required (%s)",
                    self.server.port, self.host, self.credentials.path)
        if not is_loopback(self.host):
            logger.info("other machines join it: run `jinad credentials add-node NAME "
                        "--state-dir %s` here; it prints the command to run there "
                        "(jinad --nats %s --name NAME --nats-user node-NAME --nats-password ... "
                        "--nats-edge-user edge-NAME --nats-edge-password ...)",
                        self.state_dir, self.join_url)

    def _started(self, port: int) -> NatsServer:
        server = NatsServer(host=self.host, port=port, store_dir=self.store_dir,
                            auth_path=self.credentials.conf_path)
        try:
            return server.start()
        except Exception:
            if port == 0:
                raise
        logger.warning("port %d is taken; the embedded nats-server takes a free port", port)
        return NatsServer(host=self.host, port=0, store_dir=self.store_dir,
                          auth_path=self.credentials.conf_path).start()

    def stop(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        elif self.server is not None:
            self.server.stop()
