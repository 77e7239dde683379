"""The node's commands: spawn a pod's Peas, kill a flow's or pod's Peas, hand out ports.

Each handler takes the decoded request and returns its reply; the bus's one dispatch
(:meth:`mesh.events.bus.Bus.subscribe`) logs, counts and answers failures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from nats.aio.msg import Msg

from mesh.agents.journal import Journal
from mesh.agents.supervisor import Supervisor
from mesh.agents.workspace import remove_workspace, write_workspace
from mesh.errors import MeshError
from mesh.events.files import FlowFiles
from mesh.events.models import (
    KillReply,
    KillRequest,
    LifecycleKind,
    PortsReply,
    PortsRequest,
    SpawnReply,
    SpawnRequest,
    check_pea_configs,
)
from mesh.executors.checks import check_pod_uses
from mesh.net.ports import free_port
from mesh.runtime.config import PeaConfig, config_from_dict

__all__ = ["Commands", "Notify"]

logger = logging.getLogger(__name__)

Notify = Callable[[str, str, str, LifecycleKind, "int | None", "str | None"], Awaitable[None]]


class Commands:
    """The handlers a node serves on ``jinad.spawn.<node>``, ``jinad.kill.>`` and
    ``jinad.ports.<node>``."""

    def __init__(self, *, node: str, address: str, state_dir: Path, supervisor: Supervisor,
                 files: FlowFiles, notify: Notify, changed: Callable[[], Awaitable[None]],
                 journal: Journal | None = None) -> None:
        self.node, self.address, self.state_dir = node, address, state_dir
        self.journal = journal or Journal(state_dir)  # what the next life re-creates
        self.supervisor, self.files = supervisor, files
        self.notify = notify      # a lifecycle event on jinad.events.<flow>
        self.changed = changed    # what this node runs changed: tell the mesh now
        self.counts = {"spawned": 0, "killed": 0}

    async def spawn(self, req: SpawnRequest, _msg: Msg | None) -> SpawnReply:
        check_pea_configs(req.peas)
        configs = [config_from_dict(p) for p in req.peas]
        files = {**(await self.files.get(req.files_ref)), **req.files} if req.files_ref else req.files
        workdir = await asyncio.to_thread(write_workspace, self.state_dir, req.flow_id, files)
        for cfg in configs:
            if isinstance(cfg, PeaConfig) and workdir and not cfg.base_dir:
                cfg.base_dir = str(workdir)
        path = os.pathsep.join(filter(None, [str(workdir or ""), os.environ.get("PYTHONPATH", "")]))
        await self.notify(req.flow_id, req.pod, "*", "started", None, f"{len(configs)} peas")
        try:
            await asyncio.to_thread(check_pod_uses, req.pod, configs, workdir=workdir)
            run = await asyncio.to_thread(self.supervisor.spawn, req.flow_id, req.pod, configs,
                                          ready_timeout_s=req.ready_timeout_s,
                                          env={"PYTHONPATH": path},
                                          cwd=str(workdir) if workdir else None,
                                          restart=req.restart)
        except Exception as exc:
            await self._forget_files(req.flow_id)
            await self.notify(req.flow_id, req.pod, "*", "failed", None, str(exc))
            if isinstance(exc, MeshError):
                raise on_node(exc, req.pod, self.node) from exc
            raise
        if req.lease_s:
            run.lease_until = time.time() + req.lease_s
        else:
            await asyncio.to_thread(self.journal.keep, req)
        self.counts["spawned"] += len(run.peas)
        await self.notify(req.flow_id, req.pod, "*", "ready", None, None)
        await self.changed()
        return SpawnReply(ok=True, node=self.node, address=self.address, peas=run.describe())

    async def kill(self, req: KillRequest, _msg: Msg) -> KillReply:
        if req.renew_lease_s:
            for run in list(self.supervisor.pods.values()):
                if run.flow_id == req.flow_id and (req.pod is None or run.pod == req.pod):
                    run.lease_until = time.time() + req.renew_lease_s
            return KillReply(ok=True, node=self.node)
        peas = await self.stop(req.flow_id, req.pod, None)
        return KillReply(ok=True, node=self.node, peas=peas)

    async def stop(self, flow_id: str, pod: str | None, why: str | None) -> list[dict[str, object]]:
        """Stop a flow's (or pod's) Peas here; the flow's workspace goes when no pod is left."""
        runs = await asyncio.to_thread(self.supervisor.kill, flow_id, pod)
        await asyncio.to_thread(self.journal.forget, flow_id, pod)
        await self._forget_files(flow_id)
        for run in runs:
            await self.notify(run.flow_id, run.pod, "*", "stopped", None, why)
        self.counts["killed"] += sum(len(r.peas) for r in runs)
        if runs:
            await self.changed()
        return [p for r in runs for p in r.describe()]

    async def _forget_files(self, flow_id: str) -> None:
        """Remove the flow's workspace once no pod of it runs here (a failed spawn's too)."""
        if not any(key[0] == flow_id for key in list(self.supervisor.pods)):
            await asyncio.to_thread(remove_workspace, self.state_dir, flow_id)

    async def ports(self, req: PortsRequest, _msg: Msg) -> PortsReply:
        return PortsReply(node=self.node, address=self.address,
                          ports=[free_port() for _ in range(req.count)])


def on_node(exc: MeshError, pod: str, node: str) -> MeshError:
    """The same error, its message and detail saying which pod failed on which node."""
    prefix = f"pod {pod!r}: "
    rest = exc.message.removeprefix(prefix)
    detail = {**exc.detail, "pod": pod, "node": node}
    try:
        return type(exc)(f"pod {pod!r} on node {node}: {rest}", detail=detail)
    except TypeError:  # an error type with a constructor of its own
        return exc
