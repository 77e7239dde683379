"""The edge's typed app context: what handlers may use, built in one place.

``create_app`` builds the :class:`EdgeContext` from the node's settings; once the node has
started (its bus connected), ``ctx.attach(EdgeServices(...))`` gives it the deployer, the
node directory, the log reader and the broker link. Handlers annotate ``request:
EdgeRequest``, so mypy checks every ``request.app.ctx.x``.

``ctx.deployer``, ``ctx.nodes`` and ``ctx.logs`` are the work that needs the broker: while
the node is starting, or while its connection to the broker is down, they raise a 503 at
once (instead of each request waiting out a NATS timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from sanic import Request, Sanic
from sanic.config import Config

from mesh.errors import UnavailableError
from mesh.events.models import NodeInfo
from mesh.http.logreader import LogReader
from mesh.http.policy import EdgePolicy

if TYPE_CHECKING:
    from mesh.scheduler.deployer import Deployer

__all__ = ["BrokerLink", "EdgeApp", "EdgeContext", "EdgeRequest", "EdgeServices", "NodeDirectory"]


class NodeDirectory(Protocol):
    """Who is in the mesh (the node's agent)."""

    async def live_nodes(self) -> list[NodeInfo]: ...


class BrokerLink(Protocol):
    """The node's connection to the broker (its Bus), as far as the edge needs to know."""

    @property
    def is_connected(self) -> bool: ...


@dataclass(frozen=True)
class EdgeServices:
    deployer: Deployer
    nodes: NodeDirectory
    logs: LogReader
    broker: BrokerLink


@dataclass
class EdgeContext:
    """``app.ctx`` of the edge: the node's identity and limits, and its services."""

    name: str
    address: str
    version: str
    max_upload_bytes: int
    default_lease_s: float
    token_required: bool = False
    metrics: bool = True  # serve /metrics (--no-metrics: a 404)
    policy: EdgePolicy = field(default_factory=EdgePolicy)
    services: EdgeServices | None = None
    openapi: dict[str, Any] | None = None  # the document, built on its first request

    def attach(self, services: EdgeServices) -> None:
        self.services = services

    @property
    def broker_connected(self) -> bool:
        return self.services is not None and self.services.broker.is_connected

    def _started(self) -> EdgeServices:
        if self.services is None:
            raise UnavailableError(f"node {self.name} is still starting; retry")
        if not self.services.broker.is_connected:
            raise UnavailableError(
                f"node {self.name} cannot reach the NATS broker now, and every flow and pod "
                "lives there; it reconnects by itself: retry shortly (GET /alive shows "
                "\"broker\")", detail={"node": self.name, "broker": "unreachable"})
        return self.services

    @property
    def deployer(self) -> Deployer:
        return self._started().deployer

    @property
    def nodes(self) -> NodeDirectory:
        return self._started().nodes

    @property
    def logs(self) -> LogReader:
        return self._started().logs


EdgeApp = Sanic[Config, EdgeContext]
EdgeRequest = Request[EdgeApp, SimpleNamespace]
