"""Pods of a local Flow that run on jinad nodes (``Flow().add(host=..., port_expose=8000)``).

The local machine may be behind NAT, so nothing remote ever dials it: the
placement makes a remote Pea bind the sockets local Peas need and the local
side dials out. Ports on the node are chosen by that node. Remote log lines
are shown here with a 🌏 prefix. A lease, renewed while the Flow runs, removes
the remote pods when this process dies without closing the Flow.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mesh.client.edge import EdgeClient
from mesh.client.lease import LeaseKeeper
from mesh.errors import FlowConfigError, MeshError
from mesh.flow.addresses import NodeRef
from mesh.flow.spec import PodSpec
from mesh.flow.topology import PodPlan
from mesh.logs import LEVEL_CHARS
from mesh.net.hosts import is_remote_host
from mesh.net.ports import mark_given
from mesh.runtime.config import config_to_dict

__all__ = ["RemotePods", "is_remote"]

logger = logging.getLogger(__name__)
_CHAR_OF = {v: k for k, v in LEVEL_CHARS.items()}


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_remote(pod: PodSpec) -> bool:
    return is_remote_host(pod.host)


@dataclass
class _Remote:
    spec: PodSpec
    edge: EdgeClient
    node: NodeRef
    ports: list[int]
    pod_id: str = ""
    started: bool = False
    streams: list[threading.Thread] = field(default_factory=list)


class RemotePods:
    """Reserve ports for, start, stream the logs of, and remove a Flow's remote pods."""

    def __init__(self, flow_id: str, pods: list[PodSpec], *, token: str | None, lease_s: float,
                 version: str, edge: str | None = None) -> None:
        self.flow_id, self.token, self.lease_s, self.version = flow_id, token, lease_s, version
        self.edge = edge
        self.pods = pods
        self.remotes: dict[str, _Remote] = {}
        self._stop = threading.Event()
        self.leases = LeaseKeeper(lease_s=lease_s)

    def reserve(self) -> dict[str, NodeRef]:
        """Ask each pod's node for the ports its Peas will bind; return where each pod runs."""
        edges: dict[str, tuple[EdgeClient, set[str] | None]] = {}  # reached, with their node names
        if self.edge:
            host, _, port = self.edge.rpartition(":") if ":" in self.edge else (self.edge, "", "")
            first = EdgeClient(host, int(port or 8000), token=self.token)
            first.alive()
            edges[first.base] = (first, None)
        for pod in sorted(self.pods, key=lambda p: not _is_address(p.host or "")):
            edge = self._edge_for(pod, edges)
            need = 2 * (pod.replicas + 2) + 2 * len(self.pods) + 4
            got = edge.reserve_ports(pod.host, need)
            mark_given(list(got["ports"]))  # the node may be this machine: never give them here
            node = NodeRef(name=got["node"], address=got["address"])
            self.remotes[pod.name or ""] = _Remote(spec=pod, edge=edge, node=node, ports=list(got["ports"]))
        return {name: r.node for name, r in self.remotes.items()}

    def _edge_for(self, pod: PodSpec, edges: dict[str, tuple[EdgeClient, set[str] | None]]) -> EdgeClient:
        """The edge of the pod's node; for a node named by its mesh name, an edge already
        reached whose mesh has it (that edge places the pod there over NATS): the user may
        reach one node's edge only, and the name needs no DNS."""
        host = pod.host or ""
        if not _is_address(host):
            for base, (edge, names) in list(edges.items()):
                if names is None:
                    names = {n["name"] for n in edge.nodes()}
                    edges[base] = (edge, names)
                if host in names:
                    return edge
            if self.edge:
                known = sorted(n for _, names in edges.values() for n in names or ())
                raise FlowConfigError(
                    f"pod {pod.name!r} names host {host!r}, which is no node of the mesh that the "
                    f"edge {self.edge} sees; nodes are {', '.join(known)}", detail={"pod": pod.name})
        edge = EdgeClient(host, pod.port_expose or 8000, token=self.token)
        if edge.base not in edges:
            alive = edge.alive()
            if alive.get("version") not in (None, self.version):
                logger.warning("jinad at %s runs version %s, this Flow runs %s", edge.base,
                               alive.get("version"), self.version)
            edges[edge.base] = (edge, None)
        return edges[edge.base][0]

    def port(self, node: NodeRef) -> int:
        for remote in self.remotes.values():
            if remote.node == node and remote.ports:
                return remote.ports.pop()
        raise MeshError(f"no reserved port left on node {node.name}")

    def start(self, plans: list[PodPlan]) -> None:
        """Start every remote pod (in parallel); on any failure remove the ones started."""
        with ThreadPoolExecutor(max_workers=max(len(plans), 1)) as pool:
            futures = [pool.submit(self._start_one, pp) for pp in plans]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]  # type: ignore[misc]
        for remote in self.remotes.values():
            self.leases.add(remote.edge, remote.pod_id)
        self.leases.start()

    def _start_one(self, pp: PodPlan) -> None:
        remote = self.remotes[pp.name]
        remote.pod_id = f"{self.flow_id}-{pp.name}"
        body: dict[str, Any] = pp.spec.model_dump(exclude_unset=True, exclude={"needs", "method"})
        body.update(name=pp.name, host=pp.spec.host, pod_id=remote.pod_id, lease_s=self.lease_s,
                    peas=[config_to_dict(p) for p in pp.peas])
        reply = remote.edge.create_pod(body)
        remote.started = True
        logger.info("created remote pod %s with id %s on node %s", pp.name, reply["pod_id"], reply["node"])
        t = threading.Thread(target=self._stream, args=(remote,), name=f"logs-{pp.name}", daemon=True)
        t.start()
        remote.streams.append(t)

    def _stream(self, remote: _Remote) -> None:
        """Print the pod's log lines, from its first one, with the 🌏 prefix."""
        try:
            for rec in remote.edge.logs(remote.pod_id, follow=True):
                if self._stop.is_set():
                    return
                char = _CHAR_OF.get(rec.get("level", "INFO"), "I")
                sys.stderr.write(f"🌏 {rec['pea']}@{rec.get('pid') or 0}[{char}]:{rec['message']}\n")
        except Exception as exc:  # noqa: BLE001 - a log stream ending must not end the Flow
            if not self._stop.is_set():
                logger.debug("log stream of %s ended: %s", remote.pod_id, exc)

    def stop(self) -> None:
        """Remove every remote pod this Flow started; never raises."""
        self._stop.set()
        self.leases.stop()
        for remote in self.remotes.values():
            if not remote.started:
                continue
            try:
                remote.edge.delete_pod(remote.pod_id)
                remote.started = False
            except MeshError as exc:
                logger.warning("remote pod %s not removed (its lease will expire): %s",
                               remote.pod_id, exc.message)
        for remote in self.remotes.values():
            for stream in remote.streams:
                stream.join(timeout=3)  # its stream ends once the pod is gone
