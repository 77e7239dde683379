"""The edge's typed app context: what handlers may use, built in one place.

``create_app`` builds the :class:`EdgeContext` from the node's settings; once the node has
started (its bus connected), ``ctx.attach(EdgeServices(...))`` gives it the deployer, the
node directory and the log reader. Handlers annotate ``request: EdgeRequest``, so mypy
checks every ``request.app.ctx.x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Protocol

from sanic import Request, Sanic
from sanic.config import Config

from mesh.errors import UnavailableError
from mesh.events.models import NodeInfo
from mesh.http.logreader import LogReader

if TYPE_CHECKING:
    from mesh.scheduler.deployer import Deployer

__all__ = ["EdgeApp", "EdgeContext", "EdgeRequest", "EdgeServices", "NodeDirectory"]


class NodeDirectory(Protocol):
    """Who is in the mesh (the node's agent)."""

    async def live_nodes(self) -> list[NodeInfo]: ...


@dataclass(frozen=True)
class EdgeServices:
    deployer: Deployer
    nodes: NodeDirectory
    logs: LogReader


@dataclass
class EdgeContext:
    """``app.ctx`` of the edge: the node's identity and limits, and its services."""

    name: str
    address: str
    version: str
    max_upload_bytes: int
    default_lease_s: float
    services: EdgeServices | None = None

    def attach(self, services: EdgeServices) -> None:
        self.services = services

    def _started(self) -> EdgeServices:
        if self.services is None:
            raise UnavailableError(f"node {self.name} is still starting; retry")
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
