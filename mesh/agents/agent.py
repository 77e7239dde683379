"""The node agent: registers the node, takes spawns and kills over NATS, keeps its Peas."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mesh.agents.logship import LogShipper
from mesh.agents.nodeinfo import node_info
from mesh.agents.reconcile import stop_leftovers
from mesh.agents.supervisor import PodRun, Supervisor
from mesh.agents.workspace import remove_workspace, write_workspace
from mesh.errors import MeshError
from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.files import FlowFiles
from mesh.events.kv import FlowStore, NodeRegistry
from mesh.events.models import (
    KillReply,
    KillRequest,
    LifecycleEvent,
    NodeInfo,
    PortsReply,
    PortsRequest,
    SpawnReply,
    SpawnRequest,
)
from mesh.events.streams import ensure_log_stream
from mesh.executors.checks import check_pod_uses
from mesh.launchers.process import PeaProcess
from mesh.net.ports import free_port
from mesh.runtime.config import PeaConfig, config_from_dict

__all__ = ["Agent"]

logger = logging.getLogger(__name__)


def _remove_node_containers(node: str) -> int:
    """Containers this node started in an earlier life (none when there is no Docker engine)."""
    from mesh.errors import UnavailableError
    from mesh.launchers.docker import remove_containers

    try:
        return remove_containers(node=node)
    except UnavailableError:
        return 0


class Agent:
    """One per ``jinad``: ``await agent.start()`` ... ``await agent.stop()``."""

    def __init__(self, *, bus: Bus, name: str, address: str, port: int, labels: dict[str, str],
                 state_dir: Path, version: str, heartbeat_interval_s: float, node_ttl_s: float,
                 stop_grace_s: float, log_max_age_s: float, log_max_bytes: int,
                 nats_replicas: int | None = None) -> None:
        self.bus, self.name, self.address, self.port = bus, name, address, port
        self.labels, self.state_dir, self.version = labels, state_dir, version
        self.heartbeat_interval_s, self.node_ttl_s = heartbeat_interval_s, node_ttl_s
        self.log_limits = (log_max_age_s, log_max_bytes)
        self.started = time.time()
        self.replicas = nats_replicas  # None: 3 in a NATS cluster, else 1
        self.nodes = NodeRegistry(bus.jetstream, ttl_s=node_ttl_s, replicas=nats_replicas)
        self.flows = FlowStore(bus.jetstream, replicas=nats_replicas)
        self.files = FlowFiles(bus.jetstream, replicas=nats_replicas)
        self.shipper = LogShipper(bus=bus, node=name, loop=asyncio.get_running_loop())
        self.supervisor = Supervisor(state_dir=state_dir, sinks=self.shipper.sink,
                                     stop_grace_s=stop_grace_s, node=name)
        self._subs: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.counts = {"spawned": 0, "killed": 0}

    def __repr__(self) -> str:
        return f"<Agent {self.name} at {self.address}:{self.port}>"

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        left = await asyncio.to_thread(stop_leftovers, self.state_dir)
        left += await asyncio.to_thread(_remove_node_containers, self.name)
        if left:
            logger.warning("stopped %d Peas left by the previous life of this node", left)
        await ensure_log_stream(self.bus.jetstream, max_age_s=self.log_limits[0],
                                max_bytes=self.log_limits[1], replicas=self.replicas)
        await self.nodes.open()
        await self.flows.open()
        await self.files.open()
        self.shipper.start()
        await self.heartbeat()
        sub = self.bus.subscribe
        spawn = self._concurrently(self._on_spawn)
        self._subs = [
            await sub(subjects.spawn(self.name), SpawnRequest, spawn),
            await sub(subjects.SPAWN_ANY, SpawnRequest, spawn, queue=subjects.SPAWN_QUEUE),
            await sub(subjects.KILL_ALL, KillRequest, self._on_kill),
            await sub(subjects.ports(self.name), PortsRequest, self._on_ports),
        ]
        self._tasks = [asyncio.create_task(self._beat(), name="heartbeat"),
                       asyncio.create_task(self._watch(), name="watch")]
        self.bus.on_reconnect(self.heartbeat)

    # -- NATS handlers ----------------------------------------------------------
    def _concurrently(self, handler: Any) -> Any:
        """NATS runs one handler of a subscription at a time; spawns of several pods of a flow
        on this node must not wait for each other, so each runs as its own task."""
        async def start(req: Any, msg: Msg) -> None:
            async def run() -> None:
                try:
                    reply = await handler(req, msg)
                except Exception as exc:  # noqa: BLE001 - the caller gets the error envelope
                    if msg.reply:
                        await self.bus.reply_error(msg, exc)
                    return
                if msg.reply:
                    await self.bus.reply(msg, reply)
            task = asyncio.create_task(run())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return start

    async def _on_spawn(self, req: SpawnRequest, _msg: Msg) -> SpawnReply:
        configs = [config_from_dict(p) for p in req.peas]
        files = {**(await self.files.get(req.files_ref)), **req.files} if req.files_ref else req.files
        workdir = await asyncio.to_thread(write_workspace, self.state_dir, req.flow_id, files)
        for cfg in configs:
            if isinstance(cfg, PeaConfig) and workdir and not cfg.base_dir:
                cfg.base_dir = str(workdir)
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(workdir or ""), os.environ.get("PYTHONPATH", "")]))}
        await self._event(req.flow_id, req.pod, "*", "started", None, f"{len(configs)} peas")
        try:
            await asyncio.to_thread(check_pod_uses, req.pod, configs, workdir=workdir)
            run = await asyncio.to_thread(self.supervisor.spawn, req.flow_id, req.pod, configs,
                                          ready_timeout_s=req.ready_timeout_s, env=env,
                                          cwd=str(workdir) if workdir else None)
        except Exception as exc:
            await self._event(req.flow_id, req.pod, "*", "failed", None, str(exc))
            if isinstance(exc, MeshError):
                raise _on_node(exc, req.pod, self.name) from exc
            raise
        if req.lease_s:
            run.lease_until = time.time() + req.lease_s
        self.counts["spawned"] += len(run.peas)
        await self._event(req.flow_id, req.pod, "*", "ready", None, None)
        await self.heartbeat()
        return SpawnReply(ok=True, node=self.name, address=self.address, peas=run.describe())

    async def _on_kill(self, req: KillRequest, _msg: Msg) -> KillReply:
        if req.renew_lease_s:
            for run in self.supervisor.pods.values():
                if run.flow_id == req.flow_id and (req.pod is None or run.pod == req.pod):
                    run.lease_until = time.time() + req.renew_lease_s
            return KillReply(ok=True, node=self.name)
        runs = await asyncio.to_thread(self.supervisor.kill, req.flow_id, req.pod)
        if req.pod is None:
            await asyncio.to_thread(remove_workspace, self.state_dir, req.flow_id)
        for run in runs:
            await self._event(run.flow_id, run.pod, "*", "stopped", None, None)
        self.counts["killed"] += sum(len(r.peas) for r in runs)
        if runs:
            await self.heartbeat()
        return KillReply(ok=True, node=self.name, peas=[p for r in runs for p in r.describe()])

    async def _on_ports(self, req: PortsRequest, _msg: Msg) -> PortsReply:
        return PortsReply(node=self.name, address=self.address,
                          ports=[free_port() for _ in range(req.count)])

    # -- background ---------------------------------------------------------------
    async def heartbeat(self) -> None:
        info = node_info(name=self.name, address=self.address, port=self.port, labels=self.labels,
                         peas=self.supervisor.pea_count, version=self.version, started=self.started,
                         failed=self.supervisor.failed())
        await self.nodes.put(info)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval_s)
            await self._beat_once()

    async def _beat_once(self) -> None:
        try:
            await self.heartbeat()
        except Exception as exc:  # noqa: BLE001 - the broker may be away; nats-py reconnects
            logger.warning("heartbeat not published: %s", exc)

    async def _watch(self) -> None:
        """Report Peas that exit on their own; remove pods whose owner stopped renewing."""
        while True:
            await asyncio.sleep(0.5)
            exited = self.supervisor.reap()
            for run, proc in exited:
                await self._pea_exited(run, proc)
            if exited:
                await self._beat_once()  # the mesh learns of the failed pod now, not at the next beat
            for run in self.supervisor.expired(time.time()):
                await self._expire(run)

    async def _expire(self, run: PodRun) -> None:
        """The pod's owner stopped renewing its lease (it died): stop the pod, and remove the
        record, files and workspace of a single pod (``mesh pod``, ``Flow.add(host=...)``)."""
        logger.warning("lease of pod %s (flow %s) expired, removing it", run.pod, run.flow_id)
        runs = await asyncio.to_thread(self.supervisor.kill, run.flow_id, run.pod)
        self.counts["killed"] += sum(len(r.peas) for r in runs)
        await self._event(run.flow_id, run.pod, "*", "stopped", None, "lease expired")
        if any(key[0] == run.flow_id for key in list(self.supervisor.pods)):
            return
        await asyncio.to_thread(remove_workspace, self.state_dir, run.flow_id)
        try:
            if (await self.flows.get(run.flow_id)).get("kind") == "pod":
                await self.flows.delete(run.flow_id)
                await self.files.delete(run.flow_id)
        except Exception as exc:  # noqa: BLE001 - gone already, or the broker is away
            logger.debug("record of expired pod %s not removed: %s", run.flow_id, exc)

    async def _pea_exited(self, run: PodRun, proc: PeaProcess) -> None:
        tail = "\n".join(list(proc.tail)[-5:])
        logger.warning("%s of flow %s exited with code %s", proc.name, run.flow_id, proc.returncode)
        await self._event(run.flow_id, run.pod, proc.name, "exited", proc.returncode, tail or None)

    async def _event(self, flow: str, pod: str, pea: str, kind: Any, code: int | None,
                     detail: str | None) -> None:
        ev = LifecycleEvent(flow=flow, pod=pod, pea=pea, node=self.name, kind=kind,
                            exit_code=code, detail=detail, time=time.time())
        with contextlib.suppress(Exception):
            await self.bus.publish(subjects.events(flow), ev)

    async def stop(self) -> None:
        """Stop taking spawns, stop every Pea, ship the last lines, leave the mesh."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=30)
        for task in self._tasks:
            task.cancel()
        self.counts["killed"] += self.supervisor.pea_count
        await asyncio.to_thread(self.supervisor.stop_all)
        await self.shipper.stop()
        with contextlib.suppress(Exception):
            await self.nodes.delete(self.name)

    async def live_nodes(self) -> list[NodeInfo]:
        return await self.nodes.list()


def _on_node(exc: MeshError, pod: str, node: str) -> MeshError:
    """The same error, its message and detail saying which pod failed on which node."""
    prefix = f"pod {pod!r}: "
    rest = exc.message.removeprefix(prefix)
    detail = {**exc.detail, "pod": pod, "node": node}
    try:
        return type(exc)(f"pod {pod!r} on node {node}: {rest}", detail=detail)
    except TypeError:  # an error type with a constructor of its own
        return exc
