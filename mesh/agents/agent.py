"""The node agent: joins the mesh, serves the node's commands, keeps its Peas.

Start: stop what a previous life left, open the mesh's buckets and streams, register,
subscribe. Peas that end while they should run are reported by their launcher at once
(an event, and a heartbeat naming the failed pod). Pods whose owner stops renewing their
lease are removed when it runs out. Stop: no new commands, finish those in flight, stop
every Pea, ship the last log lines, leave the mesh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from pathlib import Path

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mesh.agents.cordon import Cordon
from mesh.agents.handlers import Commands
from mesh.agents.heartbeat import Heartbeat
from mesh.agents.liveness import Liveness
from mesh.agents.logship import LogShipper
from mesh.agents.metrics import PeaCollector
from mesh.agents.reconcile import stop_leftovers
from mesh.agents.supervisor import PodRun, Supervisor
from mesh.agents.trust import MeshTrust, read_trusted_keys
from mesh.errors import MeshError
from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.errors import KeyNotFound
from mesh.events.files import FlowFiles
from mesh.events.kv import FlowStore, NodeRegistry
from mesh.events.models import (
    AuditEvent,
    CordonReply,
    CordonRequest,
    KillRequest,
    LifecycleEvent,
    LifecycleKind,
    NodeInfo,
    PortsRequest,
    SpawnRequest,
)
from mesh.events.records import FlowRecord
from mesh.events.signing import Verifier
from mesh.events.streams import ensure_log_stream
from mesh.launchers.base import ExitInfo, PeaHandle
from mesh.launchers.factory import Launch, make_pea

__all__ = ["Agent"]

logger = logging.getLogger(__name__)

SPAWN_CONCURRENCY = 32  # spawns handled at once (each waits for its Peas in a thread)
_LEASE_CHECK_S = 1.0


def _remove_node_containers(node: str) -> int:
    """Containers this node started in an earlier life (none when there is no Docker engine)."""
    from mesh.errors import UnavailableError
    from mesh.launchers.engine import remove_containers

    try:
        return remove_containers(node=node)
    except UnavailableError:
        return 0


class Agent:
    """One per ``jinad``: ``await agent.start()`` ... ``await agent.stop()``."""

    def __init__(self, *, bus: Bus, name: str, address: str, port: int, labels: dict[str, str],
                 state_dir: Path, version: str, heartbeat_interval_s: float, node_ttl_s: float,
                 stop_grace_s: float, log_max_age_s: float, log_max_bytes: int,
                 nats_replicas: int | None = None, launch: Launch = make_pea,
                 edge_key: str | None = None, trusted_keys_file: Path | None = None,
                 instance: str = "", flows: FlowStore | None = None,
                 files: FlowFiles | None = None) -> None:
        """``flows`` and ``files``: the stores of the node's edge connection, when it has one
        (a node's own NATS user may read Flow records and files, not write them; the agent
        removes the record of a pod whose lease ran out). ``instance``: the state dir's key."""
        self.bus, self.name, self.address, self.port = bus, name, address, port
        self.state_dir = state_dir
        self.log_limits = (log_max_age_s, log_max_bytes)
        self.replicas = nats_replicas  # None: 3 in a NATS cluster, else 1
        self.nodes = NodeRegistry(bus.jetstream, ttl_s=node_ttl_s, replicas=nats_replicas)
        self.flows = flows or FlowStore(bus.jetstream, replicas=nats_replicas)
        self.files = files or FlowFiles(bus.jetstream, replicas=nats_replicas)
        self.loop = asyncio.get_running_loop()
        self.shipper = LogShipper(bus=bus, node=name, loop=self.loop)
        self.supervisor = Supervisor(state_dir=state_dir, sinks=self.shipper.sink,
                                     stop_grace_s=stop_grace_s, node=name, launch=launch,
                                     on_exit=self._exited_in_thread)
        self.heartbeat = Heartbeat(nodes=self.nodes, name=name, address=address, port=port,
                                   labels=labels, version=version, started=time.time(),
                                   interval_s=heartbeat_interval_s,
                                   peas=lambda: self.supervisor.pea_count,
                                   failed=self.supervisor.failed, edge_key=edge_key,
                                   failures=self.supervisor.failures,
                                   restarts=self.supervisor.restart_counts,
                                   pods=self.supervisor.running, instance=instance,
                                   cordoned=lambda: self.cordon.cordoned,
                                   down=self.supervisor.down)
        self.cordon = Cordon(state_dir)
        self.pea_metrics = PeaCollector(node=name, peas=self.supervisor.pea_refs)  # /metrics
        self.edge_key, self.trusted_keys_file = edge_key, trusted_keys_file
        self.verifier: Verifier | None = None
        self.commands = Commands(node=name, address=address, state_dir=state_dir,
                                 supervisor=self.supervisor, files=self.files, notify=self.notify,
                                 changed=self.heartbeat.beat)
        self._subs: list[Subscription] = []
        self._recoveries: set[asyncio.Task[None]] = set()  # Peas being reported and restarted
        self.liveness = Liveness(self.supervisor.probed, self._hung)
        self._leases: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Agent {self.name} at {self.address}:{self.port}>"

    @property
    def counts(self) -> dict[str, int]:
        return self.commands.counts

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        left = await asyncio.to_thread(stop_leftovers, self.state_dir)
        left += await asyncio.to_thread(_remove_node_containers, self.name)
        if left:
            logger.warning("stopped %d Peas left by the previous life of this node", left)
        self.verifier = await self._verifier()
        await ensure_log_stream(self.bus.jetstream, max_age_s=self.log_limits[0],
                                max_bytes=self.log_limits[1], replicas=self.replicas)
        await self.nodes.open()
        await self.flows.open()
        await self.files.open()
        self.shipper.start()
        self.pea_metrics.register()
        await self.heartbeat.beat()
        c = self.commands
        sub = functools.partial(self.bus.subscribe, verify=self.verifier, audit=self._audit)
        self._subs = [
            await sub(subjects.spawn(self.name), SpawnRequest, c.spawn, name="spawn",
                      concurrency=SPAWN_CONCURRENCY),
            await sub(subjects.SPAWN_ANY, SpawnRequest, c.spawn, queue=subjects.SPAWN_QUEUE,
                      name="spawn", concurrency=SPAWN_CONCURRENCY),
            await sub(subjects.KILL_ALL, KillRequest, c.kill, name="kill"),
            await sub(subjects.ports(self.name), PortsRequest, c.ports, name="ports"),
            await sub(subjects.cordon(self.name), CordonRequest, self._on_cordon, name="cordon"),
        ]
        self.heartbeat.start()
        self._leases = asyncio.create_task(self._expire_leases(), name="leases")
        self.liveness.start()
        task = self.loop.create_task(self._reconcile(), name="reconcile")
        self._recoveries.add(task)  # cancelled, as restarts are, when the node stops
        task.add_done_callback(self._recoveries.discard)

    async def _on_cordon(self, req: CordonRequest, _msg: Msg) -> CordonReply:
        """Take no new pods (or take them again); said at once in the node's record, and kept
        across restarts of this jinad. What the node runs stays."""
        changed = await asyncio.to_thread(self.cordon.set, req.cordon)
        if changed:
            logger.warning("node %s %s", self.name, "cordoned: it takes no new pods" if req.cordon
                           else "uncordoned: it takes new pods again")
            await self.heartbeat.beat()
        return CordonReply(ok=True, node=self.name, cordoned=self.cordon.cordoned)

    async def _reconcile(self) -> None:
        """Re-create the pods this node ran before it restarted (mesh/agents/journal.py) whose
        Flow still names it for them; forget the others."""
        for req in await asyncio.to_thread(self.commands.journal.entries):
            try:
                record = FlowRecord.model_validate(await self.flows.get(req.flow_id))
            except KeyNotFound:
                await asyncio.to_thread(self.commands.journal.forget, req.flow_id)
                continue
            except Exception as exc:  # noqa: BLE001 - the broker is away: kept for the next life
                logger.warning("pod %s of flow %s not re-created: its record cannot be read: %s",
                               req.pod, req.flow_id, exc)
                continue
            if record.status == "stopping" or self.name not in _nodes_of(record, req.pod):
                await asyncio.to_thread(self.commands.journal.forget, req.flow_id, req.pod)
                continue
            try:
                await self.commands.spawn(req, None)
            except Exception as exc:  # noqa: BLE001 - one pod's failure must not stop the others
                logger.warning("pod %s of flow %s not re-created: %s", req.pod, req.flow_id,
                               getattr(exc, "message", exc))
                continue
            logger.info("re-created pod %s of flow %s, which this node ran before it restarted",
                        req.pod, req.flow_id)
        self.bus.on_reconnect(self.heartbeat.beat)

    # -- Peas that end on their own ---------------------------------------------------
    def _exited_in_thread(self, run: PodRun, pea: PeaHandle, info: ExitInfo) -> None:
        """Called by a launcher's thread: hand the exit to the event loop."""
        self.loop.call_soon_threadsafe(self._track, run, pea, info)

    def _track(self, run: PodRun, pea: PeaHandle, info: ExitInfo) -> None:
        task = self.loop.create_task(self._exited(run, pea, info), name=f"exited:{pea.name}")
        self._recoveries.add(task)  # held until done, and cancelled when the node stops
        task.add_done_callback(self._recoveries.discard)

    async def _exited(self, run: PodRun, pea: PeaHandle, info: ExitInfo) -> None:
        logger.warning("%s of flow %s exited with code %s", pea.name, run.flow_id, info.code)
        await self.notify(run.flow_id, run.pod, pea.name, "exited", info.code,
                          "\n".join(info.tail[-5:]) or None)
        await self.heartbeat.beat_soon()  # the mesh learns of the failed pod now
        await self._recover(run, pea, info)

    async def _hung(self, run: object, pea: PeaHandle, silent_s: float) -> None:
        """The liveness probe heard nothing from ``pea`` for ``silent_s``: kill it, and go on
        as for a Pea that exited on its own (its restart policy decides)."""
        assert isinstance(run, PodRun)
        if not self.supervisor.holds(run, pea):
            return
        why = (f"{pea.name} did not answer its control socket for {silent_s:.1f} s "
               f"(liveness_s={run.restart.liveness_s:g}): killed")
        logger.warning("%s of flow %s: %s", pea.name, run.flow_id, why)
        await asyncio.to_thread(pea.kill)
        info = pea.exit_info()
        await self._exited(run, pea, ExitInfo(code=info.code, tail=[*info.tail, why]))

    async def _recover(self, run: PodRun, dead: PeaHandle, info: ExitInfo) -> None:
        """Start a Pea that exited on its own again, as its pod's restart policy says; when the
        policy is spent, the pod is failed with the reason (exit code, last lines)."""
        policy = run.restart
        lived = time.monotonic() - run.up_since.get(dead.name, time.monotonic())
        if lived >= policy.reset_after_s:
            run.streak = 0  # it ran long enough: this exit starts a fresh count
        while self.supervisor.holds(run, dead):
            if run.streak >= policy.attempts:
                lines = "\n".join(info.tail[-5:])
                run.reason = (f"{dead.name} exited with code {info.code}"
                              + (f" after {run.restarts} restarts" if run.restarts else "")
                              + (f"; last log lines:\n{lines}" if lines else ""))
                logger.warning("pod %s of flow %s failed: %s", run.pod, run.flow_id, run.reason)
                await self.notify(run.flow_id, run.pod, dead.name, "failed", info.code, run.reason)
                await self.heartbeat.beat_soon()
                return
            await asyncio.sleep(policy.delay_before(run.streak))
            run.streak += 1
            run.restarts += 1
            if not self.supervisor.holds(run, dead):
                return  # the pod was stopped meanwhile
            try:
                pea = await asyncio.to_thread(self.supervisor.replace, run, dead)
            except MeshError as exc:
                info = ExitInfo(code=exc.detail.get("exit_code"), tail=list(
                    exc.detail.get("log_tail") or [exc.message]))
                logger.warning("restart %d of %s failed: %s", run.restarts, dead.name, exc.message)
                continue
            except Exception as exc:  # noqa: BLE001 - the process could not even be made
                info = ExitInfo(code=None, tail=[f"{type(exc).__name__}: {exc}"])
                logger.exception("restart %d of %s failed", run.restarts, dead.name)
                continue
            logger.info("%s of flow %s restarted (restart %d of %d)", pea.name, run.flow_id,
                        run.restarts, policy.attempts)
            await self.notify(run.flow_id, run.pod, pea.name, "restarted", None,
                              f"restart {run.restarts} of {policy.attempts}")
            await self.heartbeat.beat_soon()
            return

    # -- leases -------------------------------------------------------------------------
    async def _expire_leases(self) -> None:
        """Remove pods whose owner stopped renewing their lease, when the lease ends."""
        while True:
            nearest = self.supervisor.next_expiry()
            wait_s = _LEASE_CHECK_S if nearest is None else nearest - time.time()
            await asyncio.sleep(min(max(wait_s, 0.05), _LEASE_CHECK_S))
            for run in self.supervisor.expired(time.time()):
                await self._expire(run)

    async def _expire(self, run: PodRun) -> None:
        """The pod's owner stopped renewing its lease (it died): stop the pod, and remove the
        record and files of a single pod (``mesh pod``, ``Flow.add(host=...)``)."""
        logger.warning("lease of pod %s (flow %s) expired, removing it", run.pod, run.flow_id)
        await self.commands.stop(run.flow_id, run.pod, "lease expired")
        if any(key[0] == run.flow_id for key in list(self.supervisor.pods)):
            return
        try:
            if (await self.flows.get(run.flow_id)).get("kind") == "pod":
                await self.flows.delete(run.flow_id)
                await self.files.delete(run.flow_id)
        except Exception as exc:  # noqa: BLE001 - gone already, or the broker is away
            logger.debug("record of expired pod %s not removed: %s", run.flow_id, exc)

    # -- who may command this node ------------------------------------------------------
    async def _verifier(self) -> Verifier:
        """Commands must be signed by a trusted edge (mesh/events/signing.py); said once."""
        if self.edge_key is None:
            raise RuntimeError("a node needs its edge's key to know its own commands")
        fixed = None
        if self.trusted_keys_file is not None:
            fixed = await asyncio.to_thread(read_trusted_keys, self.trusted_keys_file)
        trust = MeshTrust(nodes=self.nodes, own_key=self.edge_key, fixed=fixed)
        logger.info("%s", trust.describe())
        return Verifier(trust)

    async def _audit(self, msg: Msg, key: str | None, refused: BaseException | None) -> None:
        """Who asked for what: one AuditEvent per command taken or refused."""
        if refused is not None:
            logger.warning("refused %s from key %s: %s", msg.subject, key,
                           getattr(refused, "message", refused))
        ev = AuditEvent(node=self.name, subject=msg.subject, key=key, accepted=refused is None,
                        reason=getattr(refused, "message", None) if refused else None,
                        time=time.time())
        try:
            await self.bus.publish(subjects.audit(self.name), ev)
        except Exception as exc:  # noqa: BLE001 - the broker may be away; the log line stays
            logger.debug("audit record of %s not published: %s", msg.subject, exc)

    # -- events -------------------------------------------------------------------------
    async def notify(self, flow: str, pod: str, pea: str, kind: LifecycleKind, code: int | None,
                     detail: str | None) -> None:
        """One lifecycle event on ``jinad.events.<flow>``; a broker that is away loses it."""
        ev = LifecycleEvent(flow=flow, pod=pod, pea=pea, node=self.name, kind=kind,
                            exit_code=code, detail=detail, time=time.time())
        try:
            await self.bus.publish(subjects.events(flow), ev)
        except Exception as exc:  # noqa: BLE001 - events are news, not state
            logger.debug("event %s of %s not published: %s", kind, flow, exc)

    async def stop(self) -> None:
        """Stop taking commands, finish those in flight, stop every Pea, ship the last lines,
        leave the mesh."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        await self.bus.wait_handlers(timeout_s=30)
        await self.liveness.stop()
        if self._leases is not None:
            self._leases.cancel()
            await asyncio.gather(self._leases, return_exceptions=True)
        for task in list(self._recoveries):
            task.cancel()
        await asyncio.gather(*self._recoveries, return_exceptions=True)
        self.counts["killed"] += self.supervisor.pea_count
        await asyncio.to_thread(self.supervisor.stop_all)
        await self.shipper.stop()
        self.pea_metrics.unregister()
        await self.heartbeat.stop()

    async def live_nodes(self) -> list[NodeInfo]:
        return await self.nodes.list()


def _nodes_of(record: FlowRecord, pod: str) -> set[str]:
    """The nodes the record places ``pod`` (or the gateway) on."""
    if pod == "gateway":
        return {record.gateway.node} if record.gateway is not None else set()
    return {n for p in record.pods if p.name == pod
            for n in (p.node, *(e.node for e in p.peas if e.node))}
