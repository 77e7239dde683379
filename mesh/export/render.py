"""A Flow YAML (or a Flow's parts) to the text of an export, and to files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from mesh.errors import BadRequestError
from mesh.export.common import DEFAULT_IMAGE, FORMATS, ExportPlan, plan_export
from mesh.export.compose import compose_document
from mesh.export.kubernetes import kubernetes_documents
from mesh.flow.spec import FlowSpec, PodSpec

__all__ = ["check_format", "export_text", "render", "write_export"]

HEADER = ("# Exported from a jinad mesh Flow ({name}, flow id {flow_id}).\n"
          "# It holds the Flow's keys ({what}): keep it private.\n")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadRequestError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}",
                              detail={"format": fmt})
    return fmt


def render(plan: ExportPlan, fmt: str, *, publish_host: str = "") -> list[dict[str, Any]]:
    """The documents of the export: one for Compose, several for Kubernetes."""
    if check_format(fmt) == "compose":
        return [compose_document(plan, publish_host=publish_host)]
    return kubernetes_documents(plan)


def export_text(spec: FlowSpec, pods: list[PodSpec], fmt: str, *, flow_dir: Path | None,
                image: str = DEFAULT_IMAGE, flow_id: str | None = None,
                publish_host: str = "") -> str:
    """The export as one YAML text (multi-document for Kubernetes)."""
    check_format(fmt)
    plan = plan_export(spec, pods, flow_dir=flow_dir, image=image, flow_id=flow_id)
    docs = render(plan, fmt, publish_host=publish_host)
    what = "MESH_PEA_KEYS in each service's environment" if fmt == "compose" else "the Secret"
    return HEADER.format(name=plan.name, flow_id=plan.flow_id, what=what) + _dump(docs)


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, width=1 << 20, explicit_start=len(docs) > 1)


def write_export(text: str, fmt: str, out: Path) -> list[Path]:
    """Compose: ``out`` is the file. Kubernetes: ``out`` is a folder (made if missing) that
    receives ``flow.yaml`` with every manifest, or ``out`` is a file ending in .yml/.yaml."""
    if fmt == "kubernetes" and not out.name.endswith((".yml", ".yaml")):
        out.mkdir(parents=True, exist_ok=True)
        out = out / "flow.yaml"
    if out.parent and not out.parent.is_dir():
        raise BadRequestError(f"cannot write {out}: folder {out.parent} does not exist")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the keys
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return [out]
