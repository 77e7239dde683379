"""A pod's ``uses`` checked before any of its Peas starts, so that a wrong name is a 400.

At the edge only built-in names (``_pass``...) can be checked: they are the same on every
node. The node that runs the pod checks the rest against its own files and the flow's
uploads, without running any of the user's code: an executor YAML and the files it
names, the top-level module of an import path, a class name. What only importing the
user's module reveals (a class missing from it, an import error inside it) is reported
by the Pea when it starts.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from mesh.errors import ExecutorNotFoundError, FlowConfigError, MeshError
from mesh.executors.loader import check_uses, is_yaml_path, resolve_executor_class
from mesh.flow.spec import PodSpec
from mesh.runtime.config import GatewayConfig, PeaConfig
from mesh.runtime.keys import KEYS_ENV
from mesh.yaml.limits import check_yaml_size

__all__ = ["check_builtins", "check_pod_uses"]

_FIELDS = ("uses", "uses_before", "uses_after")


def check_builtins(pods: list[PodSpec]) -> None:
    """Raise FlowConfigError naming the pod for a built-in executor name that does not exist."""
    for pod in pods:
        if pod.image:
            continue
        for field in _FIELDS:
            uses = getattr(pod, field)
            if isinstance(uses, str) and uses.startswith("_") and not is_yaml_path(uses):
                _check(pod.name or "", field, uses, partial(resolve_executor_class, uses))


def check_pod_uses(pod: str, configs: list[PeaConfig | GatewayConfig], *, workdir: Path | None) -> None:
    """On the node: raise FlowConfigError naming the pod for a ``uses`` no Pea could load.
    Of a Pea in a container, only an executor YAML: it is mounted from this node, while a
    class or module may come with the image."""
    for cfg in configs:
        if isinstance(cfg, GatewayConfig) or (cfg.image and not is_yaml_path(cfg.uses)):
            continue
        field = {"head": "uses_before", "tail": "uses_after"}.get(cfg.role, "uses")
        _check(pod, field, cfg.uses, partial(_check_one, cfg, workdir))


def _check(pod: str, field: str, uses: str, check: Callable[[], object]) -> None:
    try:
        check()
    except MeshError as exc:
        cls = type(exc) if isinstance(exc, FlowConfigError) else FlowConfigError
        raise cls(f"pod {pod!r}: {field}: {exc.message}", detail={"pod": pod, field: uses}) from exc


def _check_one(cfg: PeaConfig, workdir: Path | None) -> None:
    uses = cfg.uses
    if is_yaml_path(uses):
        _check_yaml_file(uses, cfg.base_dir)
        if not (cfg.env.keys() - {KEYS_ENV}):  # the pod's own env may fill ${{ ENV.X }} in
            # the YAML: then only the Pea, which has that env, can read it
            check_uses(uses, base_dir=cfg.base_dir)
    elif uses.startswith("_") or not (":" in uses or "." in uses):
        resolve_executor_class(uses)  # a built-in, or a class name every Pea knows
    else:
        _check_module(uses, workdir)


def _check_yaml_file(uses: str, base_dir: str | None) -> None:
    path = Path(base_dir or "") / uses
    if path.is_file():
        check_yaml_size(path.read_bytes(), source=uses)


def _check_module(uses: str, workdir: Path | None) -> None:
    """The import path's top-level module is on this node, or among the flow's files."""
    module = uses.partition(":")[0] if ":" in uses else uses.rpartition(".")[0]
    top = module.split(".")[0]
    path = [str(workdir)] if workdir else []
    if top in sys.builtin_module_names or importlib.machinery.PathFinder.find_spec(top, [*path, *sys.path]):
        return
    where = " or among the flow's uploaded files" if workdir else ""
    raise ExecutorNotFoundError(f"cannot import {module!r} for uses={uses!r}: no module named {top!r} "
                          f"on this node{where}")
