"""A planned Flow as a Compose file: one service per Pea (or per replicated pod), the gateway's
ports published, health checks, the executor files mounted read-only."""

from __future__ import annotations

from typing import Any

from mesh.export.common import ExportPlan, Unit
from mesh.export.files import MOUNT
from mesh.runtime.config import GatewayConfig
from mesh.runtime.keys import KEYS_ENV

__all__ = ["compose_document", "healthcheck_command"]

ENTRYPOINT = ["python", "-m", "mesh.runtime.entry"]


def compose_document(plan: ExportPlan, *, publish_host: str = "") -> dict[str, Any]:
    """The Compose file as data; ``publish_host`` (e.g. 127.0.0.1) limits the published ports."""
    services = {u.name: _service(plan, u, publish_host) for u in plan.units}
    return {"services": services}


def healthcheck_command(unit: Unit) -> list[str]:
    """Peas answer ``status`` on their control port; the gateway's HTTP ``GET /health`` is
    200 once every pod of the Flow answers (a 503 otherwise)."""
    cfg = unit.config
    if isinstance(cfg, GatewayConfig) and cfg.port_http:
        url = f"http://127.0.0.1:{cfg.port_http}/health"
        return ["python", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout=3)"]
    return ["mesh", "ping", "127.0.0.1", str(cfg.port_ctrl), "--retries", "1", "--timeout", "3"]


def _service(plan: ExportPlan, unit: Unit, publish_host: str) -> dict[str, Any]:
    cfg = unit.config
    svc: dict[str, Any] = {
        "image": unit.image,
        "entrypoint": list(ENTRYPOINT),
        "command": unit.command[len(ENTRYPOINT):],
        "init": True,
        "environment": {**unit.env, KEYS_ENV: unit.keys_env, "PYTHONUNBUFFERED": "1"},
        "labels": _labels(plan, unit),
        "restart": _restart(unit),
        "healthcheck": {"test": ["CMD", *healthcheck_command(unit)], "interval": "5s",
                        "timeout": "5s", "retries": 5, "start_period": _start_period(unit)},
    }
    if isinstance(cfg, GatewayConfig):
        prefix = f"{publish_host}:" if publish_host else ""
        svc["ports"] = [f"{prefix}{p}:{p}" for p in (cfg.port_expose, cfg.port_http) if p]
    if unit.uses_files and plan.files.root is not None:
        svc["volumes"] = [f"{plan.files.root}:{MOUNT}:ro"]
    elif unit.uses_files:  # a Flow from an edge: its files go next to the Compose file
        svc["volumes"] = [f"./:{MOUNT}:ro"]
    if unit.replicas > 1:
        svc["scale"] = unit.replicas
    return svc


def _labels(plan: ExportPlan, unit: Unit) -> dict[str, str]:
    labels = {"mesh.flow": plan.flow_id, "mesh.pea": unit.config.name}
    if unit.pod is not None:
        labels["mesh.pod"] = unit.pod.name or ""
        labels.update({f"mesh.placement.{k}": v for k, v in unit.pod.wanted_labels.items()})
    return labels


def _start_period(unit: Unit) -> str:
    ready_s = unit.pod.timeout_ready_s if unit.pod is not None else 30.0
    return f"{max(int(ready_s), 1)}s"


def _restart(unit: Unit) -> str:
    """The pod's restart policy as Compose has it: ``on-failure:<attempts>``, ``no`` for 0
    (Compose's own back-off stands in for delay_s and backoff)."""
    attempts = unit.pod.restart.attempts if unit.pod is not None else None
    if attempts is None:
        return "on-failure"
    return f"on-failure:{attempts}" if attempts else "no"
