"""The node's books: every Pea it runs, by flow and pod; spawns are all-or-nothing.

Peas are made by the launcher passed in (processes and containers alike), started in
parallel, and waited for together: the first one that fails fails the pod at once, and
every Pea of it is stopped. A Pea that ends while it should run is reported through
``on_exit`` as soon as its launcher sees it end.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.agents.metrics import EXITS, RESTARTS, SPAWN_FAILURES, SPAWNS, PeaRef
from mesh.errors import (
    ConflictError,
    FlowConfigError,
    MeshError,
    PeaStartError,
    RequestTimeoutError,
)
from mesh.events.models import RestartPolicy
from mesh.launchers.base import ExitInfo, LineSink, PeaHandle
from mesh.launchers.factory import Launch, make_pea, start_peas, stop_all
from mesh.launchers.ready import ctrl_keys, wait_all_ready
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = ["PodRun", "Supervisor"]

logger = logging.getLogger(__name__)

SinkFactory = Callable[[str, str, str], LineSink]  # (flow, pod, pea) -> sink
ExitReport = Callable[["PodRun", PeaHandle, ExitInfo], None]
Config = PeaConfig | GatewayConfig
_REFUSED = 2  # a Pea's exit code for a MeshError while it was built (mesh.runtime.entry)


@dataclass
class PodRun:
    flow_id: str
    pod: str
    peas: list[PeaHandle]
    started: float = field(default_factory=time.time)
    lease_until: float | None = None
    configs: list[Config] = field(default_factory=list)  # the Peas' configs, in order
    launch_args: dict[str, Any] = field(default_factory=dict)  # sink-less launch keywords
    ready_timeout_s: float = 60.0
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: int = 0  # Peas of it this node started again
    streak: int = 0  # restarts since a Pea of it last ran ``restart.reset_after_s``
    up_since: dict[str, float] = field(default_factory=dict)  # Pea name -> monotonic, when ready
    reason: str | None = None  # why it failed for good (its restart policy is spent)

    @property
    def key(self) -> str:
        return f"{self.flow_id}/{self.pod}"

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": p.name, "pid": p.pid, "port_ctrl": p.port_ctrl,
                 "alive": p.returncode is None, "exit_code": p.returncode} for p in self.peas]


def _classify(exc: PeaStartError, ready_timeout_s: float) -> MeshError:
    """A Pea that refused its configuration (no such executor, a port it cannot bind) is a
    400; one that missed the deadline a 504; one whose own code failed stays a 500."""
    code = exc.detail.get("exit_code")
    if code == _REFUSED:
        return FlowConfigError(exc.message, detail=exc.detail)
    if code is not None:
        return exc
    lines = list(exc.detail.get("log_tail") or [])
    text = "\n".join(lines)
    pea = exc.detail.get("pea", "a Pea")
    return RequestTimeoutError(
        f"{pea} was not ready within timeout_ready_s={ready_timeout_s:g} s"
        + (f"; last log lines:\n{text}" if lines else ""), detail=exc.detail)


class Supervisor:
    """Starts and stops Peas; thread-safe; writes its books to the state dir."""

    def __init__(self, *, state_dir: Path, sinks: SinkFactory, stop_grace_s: float = 3.0,
                 node: str = "local", launch: Launch = make_pea,
                 on_exit: ExitReport | None = None) -> None:
        self.node = node
        self.state_file = state_dir / "peas.json"
        self.sinks = sinks
        self.stop_grace_s = stop_grace_s
        self.launch = launch
        self.on_exit = on_exit
        self.pods: dict[tuple[str, str], PodRun] = {}
        self._lock = threading.RLock()

    def spawn(self, flow_id: str, pod: str, configs: list[Config], *, ready_timeout_s: float,
              env: dict[str, str] | None = None, cwd: str | None = None,
              restart: RestartPolicy | None = None) -> PodRun:
        """Start every Pea of a pod and wait until all are ready, or stop them all and raise."""
        key = (flow_id, pod)
        SPAWNS.inc()
        with self._lock:
            if key in self.pods:
                SPAWN_FAILURES.labels(error="ConflictError").inc()
                raise ConflictError(f"pod {pod!r} of flow {flow_id} already runs on this node",
                                    detail={"pod": pod})
            run = PodRun(flow_id=flow_id, pod=pod, peas=[], configs=list(configs),
                         launch_args={"cwd": cwd, "env": {**(env or {}), "MESH_FLOW_ID": flow_id},
                                      "node": self.node},
                         ready_timeout_s=ready_timeout_s, restart=restart or RestartPolicy())
            self.pods[key] = run
        deadline = time.monotonic() + ready_timeout_s  # starting the processes counts too
        try:
            for cfg in configs:
                pea = self._make(run, cfg)
                pea.on_exit = self._exited
                run.peas.append(pea)
            start_peas(run.peas)
            self._save()
            left = max(deadline - time.monotonic(), 0.05)
            try:
                wait_all_ready(run.peas, [left] * len(run.peas), keys=ctrl_keys(configs))
            except PeaStartError as exc:
                raise _classify(exc, ready_timeout_s) from exc
            now = time.monotonic()
            run.up_since.update({p.name: now for p in run.peas})
            with self._lock:
                if self.pods.get(key) is not run:  # a kill came while it started
                    raise ConflictError(f"pod {pod!r} of flow {flow_id} was stopped while it started",
                                        detail={"pod": pod})
        except BaseException as exc:
            SPAWN_FAILURES.labels(error=type(exc).__name__).inc()
            self._discard(key, run)
            raise
        return run

    def _make(self, run: PodRun, cfg: Config) -> PeaHandle:
        return self.launch(cfg, sink=self.sinks(run.flow_id, run.pod, cfg.name), **run.launch_args)

    def holds(self, run: PodRun, pea: PeaHandle) -> bool:
        """True while ``run`` is on the books with ``pea`` among its Peas."""
        with self._lock:
            return self.pods.get((run.flow_id, run.pod)) is run and any(p is pea for p in run.peas)

    def replace(self, run: PodRun, dead: PeaHandle) -> PeaHandle:
        """Start the Pea ``dead`` was again, from its config (same ports: its neighbours
        reconnect by themselves), wait until it is ready and put it in ``dead``'s place.
        A PeaStartError if it does not come up (it is stopped); a ConflictError if the pod
        was stopped meanwhile."""
        cfg = run.configs[next(i for i, p in enumerate(run.peas) if p is dead)]
        pea = self._make(run, cfg)
        try:
            start_peas([pea])
            wait_all_ready([pea], [run.ready_timeout_s], keys=ctrl_keys([cfg]))
            with self._lock:
                if not self.holds(run, dead):
                    raise ConflictError(f"pod {run.pod!r} of flow {run.flow_id} was stopped while "
                                        f"{cfg.name} restarted", detail={"pod": run.pod})
                pea.on_exit = self._exited
                run.peas[run.peas.index(dead)] = pea
                run.up_since[pea.name] = time.monotonic()
            RESTARTS.inc()
        except BaseException:
            pea.stop(self.stop_grace_s)
            raise
        self._save()
        return pea

    def failures(self) -> dict[str, str]:
        """``<flow>/<pod>`` -> why, of the pods whose restart policy is spent."""
        with self._lock:
            return {r.key: r.reason for r in self.pods.values() if r.reason}

    def restart_counts(self) -> dict[str, int]:
        with self._lock:
            return {r.key: r.restarts for r in self.pods.values() if r.restarts}

    def _exited(self, pea: PeaHandle, info: ExitInfo) -> None:
        """A launcher saw a Pea end: report it if it ended while it should run."""
        if info.expected:
            return
        EXITS.inc()
        if self.on_exit is None:
            return
        with self._lock:
            run = next((r for r in self.pods.values() if any(p is pea for p in r.peas)), None)
        if run is not None:
            self.on_exit(run, pea, info)

    def _discard(self, key: tuple[str, str], run: PodRun) -> None:
        """Stop a pod that did not start; a kill may have taken it off the books meanwhile,
        with Peas it had not started yet, which are stopped here."""
        with self._lock:
            if self.pods.get(key) is run:
                del self.pods[key]
        stop_all(run.peas, self.stop_grace_s)
        self._save()

    def kill(self, flow_id: str, pod: str | None = None) -> list[PodRun]:
        """Stop the flow's (or pod's) Peas, all at once: every one is signalled, then waited for."""
        with self._lock:
            keys = [k for k in self.pods if k[0] == flow_id and (pod is None or k[1] == pod)]
            runs = [self.pods.pop(k) for k in keys]
        if runs:
            stop_all([p for r in runs for p in r.peas], self.stop_grace_s)
            self._save()
        return runs

    def expired(self, now: float) -> list[PodRun]:
        with self._lock:
            return [r for r in self.pods.values() if r.lease_until is not None and r.lease_until < now]

    def next_expiry(self) -> float | None:
        """The earliest lease end of the pods on the books (epoch seconds)."""
        with self._lock:
            ends = [r.lease_until for r in self.pods.values() if r.lease_until is not None]
        return min(ends, default=None)

    def failed(self) -> list[str]:
        """``<flow>/<pod>`` of the pods one of whose Peas exited while it should run."""
        with self._lock:
            return sorted(f"{r.flow_id}/{r.pod}" for r in self.pods.values()
                          if any(p.returncode is not None for p in r.peas))

    def down(self) -> list[str]:
        """``<flow>/<pod>/<pea>`` of the Peas that exited while they should run."""
        with self._lock:
            return sorted(f"{r.flow_id}/{r.pod}/{p.name}" for r in self.pods.values()
                          for p in r.peas if p.returncode is not None)

    def running(self) -> list[str]:
        """``<flow>/<pod>`` of every pod on the books."""
        with self._lock:
            return sorted(r.key for r in self.pods.values())

    def pea_refs(self) -> list[PeaRef]:
        """(flow, pod, pea, port_ctrl, alive) of every Pea on the books, for /metrics."""
        with self._lock:
            return [(r.flow_id, r.pod, p.name, p.port_ctrl, p.returncode is None)
                    for r in self.pods.values() for p in r.peas]

    def probed(self) -> list[tuple[object, PeaHandle, float]]:
        """(pod run, Pea, liveness_s) of every Pea whose pod asks for a liveness probe."""
        with self._lock:
            return [(r, p, r.restart.liveness_s) for r in self.pods.values()
                    if r.restart.liveness_s > 0 and not r.reason for p in r.peas]

    @property
    def pea_count(self) -> int:
        with self._lock:
            return sum(len(r.peas) for r in self.pods.values())

    def stop_all(self) -> None:
        with self._lock:
            runs = list(self.pods.values())
            self.pods.clear()
        if runs:
            stop_all([p for r in runs for p in r.peas], self.stop_grace_s)
            self._save()

    def _save(self) -> None:
        """The pids of this life, so that the next life can stop what this one leaves."""
        with self._lock:
            entries = [{"flow": r.flow_id, "pod": r.pod, "pea": p.name, "pid": p.pid}
                       for r in self.pods.values() for p in r.peas if p.pid]
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"owner": os.getpid(), "peas": entries}))
            tmp.replace(self.state_file)
