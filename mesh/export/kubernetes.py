"""A planned Flow as Kubernetes manifests: a Deployment and a Service per service of the plan
(the gateway's too), the executor files in a ConfigMap, the Flow's keys in a Secret."""

from __future__ import annotations

from typing import Any

from mesh.errors import FlowConfigError
from mesh.export.common import ExportPlan, Unit, service_name
from mesh.export.compose import ENTRYPOINT, healthcheck_command
from mesh.export.files import MOUNT
from mesh.runtime.config import GatewayConfig
from mesh.runtime.keys import KEYS_ENV

__all__ = ["kubernetes_documents"]

NAME_LABEL = "app.kubernetes.io/name"


def kubernetes_documents(plan: ExportPlan, *, gateway_service_type: str = "ClusterIP") -> list[dict[str, Any]]:
    """Secret, ConfigMap (when the Flow has executor files), then Deployment + Service each."""
    if any(u.uses_files for u in plan.units) and not plan.files.files:
        raise FlowConfigError("the Flow's executor files are not on this machine; export it "
                              "with `mesh export kubernetes FLOW.yml` where they are")
    docs: list[dict[str, Any]] = [_secret(plan)]
    if plan.files.files:
        docs.append(_config_map(plan))
    for unit in plan.units:
        docs.append(_deployment(plan, unit))
        svc_type = gateway_service_type if unit.kind == "gateway" else "ClusterIP"
        docs.append(_service(plan, unit, svc_type))
    return docs


def _names(plan: ExportPlan) -> tuple[str, str]:
    base = service_name(plan.name)
    return f"{base}-keys", f"{base}-files"


def _meta(plan: ExportPlan, name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "labels": {"mesh.flow": plan.flow_id, **labels}}


def _secret(plan: ExportPlan) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(plan, _names(plan)[0]),
            "type": "Opaque", "stringData": {KEYS_ENV: plan.keys_env}}


def _file_key(index: int, rel: str) -> str:
    tail = "".join(c if c.isalnum() or c in "-._" else "-" for c in rel.rsplit("/", 1)[-1])
    return f"f{index}-{tail}"[:253]


def _config_map(plan: ExportPlan) -> dict[str, Any]:
    assert plan.files.root is not None
    data = {_file_key(i, rel): (plan.files.root / rel).read_text(encoding="utf-8")
            for i, rel in enumerate(plan.files.files)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(plan, _names(plan)[1]),
            "data": data}


def _deployment(plan: ExportPlan, unit: Unit) -> dict[str, Any]:
    labels = {NAME_LABEL: unit.name, "mesh.flow": plan.flow_id}
    spec: dict[str, Any] = {"containers": [_container(plan, unit)], "restartPolicy": "Always"}
    if unit.pod is not None and unit.pod.wanted_labels:
        spec["nodeSelector"] = dict(unit.pod.wanted_labels)
    if unit.uses_files and plan.files.files:
        items = [{"key": _file_key(i, rel), "path": rel} for i, rel in enumerate(plan.files.files)]
        spec["volumes"] = [{"name": "executor-files",
                            "configMap": {"name": _names(plan)[1], "items": items}}]
    pod_labels = {**labels, **({"mesh.pod": unit.pod.name or ""} if unit.pod else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta(plan, unit.name, **{NAME_LABEL: unit.name}),
            "spec": {"replicas": unit.replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": pod_labels}, "spec": spec}}}


def _container(plan: ExportPlan, unit: Unit) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in unit.env.items()]
    env.append({"name": KEYS_ENV, "valueFrom": {"secretKeyRef": {"name": _names(plan)[0],
                                                                 "key": KEYS_ENV}}})
    env.append({"name": "PYTHONUNBUFFERED", "value": "1"})
    ready_s = int(unit.pod.timeout_ready_s) if unit.pod is not None else 30
    container: dict[str, Any] = {
        "name": "pea" if unit.kind == "pea" else "gateway",
        "image": unit.image, "command": list(ENTRYPOINT), "args": unit.command[len(ENTRYPOINT):],
        "env": env, "ports": [{"containerPort": p} for p in unit.ports],
        "livenessProbe": {"exec": {"command": healthcheck_command(unit)},
                          "initialDelaySeconds": max(ready_s, 1), "periodSeconds": 10,
                          "timeoutSeconds": 5},
        "readinessProbe": _readiness(unit),
    }
    if unit.uses_files and plan.files.files:
        container["volumeMounts"] = [{"name": "executor-files", "mountPath": MOUNT,
                                      "readOnly": True}]
    return container


def _readiness(unit: Unit) -> dict[str, Any]:
    cfg = unit.config
    if isinstance(cfg, GatewayConfig) and cfg.port_http:
        # ready once every pod of the Flow answers on its control socket
        return {"httpGet": {"path": "/health", "port": cfg.port_http}, "periodSeconds": 5}
    return {"tcpSocket": {"port": cfg.port_ctrl}, "periodSeconds": 5}


def _service(plan: ExportPlan, unit: Unit, svc_type: str) -> dict[str, Any]:
    ports = [{"name": f"p{p}", "port": p, "targetPort": p} for p in unit.ports]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(plan, unit.name, **{NAME_LABEL: unit.name}),
            "spec": {"type": svc_type, "ports": ports,
                     "selector": {NAME_LABEL: unit.name, "mesh.flow": plan.flow_id}}}
