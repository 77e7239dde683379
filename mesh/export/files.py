"""The executor files a Flow needs in its containers, and where they are mounted there.

Every executor YAML a pod uses, and the ``py_modules`` it names, lie under one folder of
the machine that exports (the Flow's directory, or a common parent of it and the files);
that folder is mounted read-only at :data:`MOUNT` and each path is rewritten below it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mesh.errors import FlowConfigError
from mesh.executors.loader import is_yaml_path
from mesh.flow.spec import PodSpec
from mesh.yaml.loader import load_yaml

__all__ = ["MOUNT", "FlowFiles", "collect_files"]

MOUNT = "/flow"


@dataclass
class FlowFiles:
    """``root``: the folder mounted at :data:`MOUNT` (None: the Flow has no file on this
    machine, e.g. a Flow read from an edge); ``files``: paths relative to it."""

    root: Path | None
    files: list[str] = field(default_factory=list)

    def inside(self, uses: str) -> str:
        """A pod's ``uses`` as the container sees it."""
        if not is_yaml_path(uses):
            return uses
        if self.root is not None and os.path.isabs(uses):
            return f"{MOUNT}/{Path(uses).resolve().relative_to(self.root).as_posix()}"
        return uses  # relative: found under base_dir, which is MOUNT


def collect_files(pods: list[PodSpec], flow_dir: Path | None) -> FlowFiles:
    """The executor files of ``pods`` (their YAML paths are absolute once read from a file)."""
    paths: list[Path] = []
    for pod in pods:
        for uses in (pod.uses, pod.uses_before, pod.uses_after):
            if uses and is_yaml_path(uses) and os.path.isabs(uses):
                paths.extend(_executor_files(Path(uses), pod.name or ""))
    if flow_dir is None:
        return FlowFiles(root=None)
    root = Path(os.path.commonpath([flow_dir.resolve(), *(p.parent for p in paths)]))
    if root == Path(root.anchor):
        raise FlowConfigError(
            f"the executor files ({', '.join(str(p) for p in paths)}) and the Flow's directory "
            f"{flow_dir} share no folder but {root}; put the files next to the Flow YAML")
    rel = sorted({p.relative_to(root).as_posix() for p in paths})
    return FlowFiles(root=root, files=rel)


def _executor_files(path: Path, pod: str) -> list[Path]:
    """The executor YAML and the Python modules it names (relative to its folder)."""
    path = path.resolve()
    if not path.is_file():
        raise FlowConfigError(f"pod {pod!r}: executor YAML {path} not found", detail={"pod": pod})
    data = load_yaml(path.read_text(encoding="utf-8"), source=str(path))
    metas = data.get("metas") if isinstance(data, dict) else None
    modules = (metas or {}).get("py_modules") or []
    out = [path]
    for module in modules:
        mod = (path.parent / str(module)).resolve()
        if not mod.is_file():
            raise FlowConfigError(f"pod {pod!r}: py_modules file {mod} of {path} not found",
                                  detail={"pod": pod})
        out.append(mod)
    return out
