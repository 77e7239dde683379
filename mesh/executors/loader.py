"""Turn a pod's ``uses`` into an Executor instance."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh.errors import ExecutorNotFoundError, FlowConfigError
from mesh.executors.base import Executor
from mesh.executors.builtins import BUILTINS

if TYPE_CHECKING:
    from mesh.yaml.loader import Tagged

__all__ = ["check_uses", "is_yaml_path", "load_executor", "resolve_executor_class"]


def is_yaml_path(uses: str) -> bool:
    return uses.endswith((".yml", ".yaml"))


def load_executor(uses: str, *, uses_with: dict[str, Any] | None = None,
                  metas: dict[str, Any] | None = None, base_dir: str | None = None) -> Executor:
    """Build the executor ``uses`` names, with ``uses_with`` as constructor arguments."""
    kwargs = dict(uses_with or {})
    all_metas = dict(metas or {})
    if is_yaml_path(uses):
        cls, yaml_with, yaml_metas = _from_yaml(_resolve_path(uses, base_dir))
        kwargs = {**yaml_with, **kwargs}
        all_metas = {**yaml_metas, **all_metas}
    else:
        cls = resolve_executor_class(uses)
    try:
        executor = cls(metas=all_metas, **kwargs) if _takes_metas(cls) else cls(**kwargs)
    except TypeError as exc:
        raise FlowConfigError(f"cannot construct {cls.__name__} for uses={uses!r}: {exc}") from exc
    if not hasattr(executor, "metas"):
        executor.metas = all_metas
    return executor


def check_uses(uses: str, *, base_dir: str | None = None) -> None:
    """Raise what :func:`load_executor` would for a wrong ``uses``, as far as that is known
    without running the user's code: a built-in's name, an executor YAML file and the
    files it names, the top-level package of an import path. A Flow calls this before it
    starts a process."""
    if is_yaml_path(uses):
        path = _resolve_path(uses, base_dir)
        _read_yaml(path)
    elif uses.startswith("_"):
        resolve_executor_class(uses)
    elif ":" in uses or "." in uses:
        module_name = uses.partition(":")[0] if ":" in uses else uses.rpartition(".")[0]
        top = module_name.split(".")[0]
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ExecutorNotFoundError(f"cannot import {module_name!r} for uses={uses!r}: "
                                        f"no module named {top!r}")


def resolve_executor_class(uses: str) -> type[Executor]:
    if uses in BUILTINS:
        return BUILTINS[uses]
    if uses.startswith("_"):
        raise ExecutorNotFoundError(
            f"unknown built-in executor {uses!r}; built-ins are {', '.join(sorted(BUILTINS))}")
    if ":" in uses or "." in uses:
        return _import_class(uses)
    found = _registered().get(uses)
    if found is None:
        raise ExecutorNotFoundError(
            f"no executor named {uses!r}: use a built-in ({', '.join(sorted(BUILTINS))}), "
            "an executor YAML file, or an import path such as 'package.module:ClassName'")
    return found


def _registered() -> dict[str, type[Executor]]:
    out: dict[str, type[Executor]] = {}
    stack = list(Executor.__subclasses__())
    while stack:
        cls = stack.pop()
        out.setdefault(cls.__name__, cls)
        stack.extend(cls.__subclasses__())
    return out


def _import_class(path: str) -> type[Executor]:
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExecutorNotFoundError(f"cannot import {module_name!r} for uses={path!r}: {exc}") from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ExecutorNotFoundError(f"{path!r} does not name an Executor subclass")
    return cls


def _resolve_path(uses: str, base_dir: str | None) -> Path:
    path = Path(uses)
    if not path.is_absolute() and base_dir:
        path = Path(base_dir) / path
    if not path.is_file():
        raise ExecutorNotFoundError(f"executor YAML file {str(path)!r} does not exist")
    return path


def _from_yaml(path: Path) -> tuple[type[Executor], dict[str, Any], dict[str, Any]]:
    data = _read_yaml(path)
    metas = dict(data.get("metas") or {})
    for module in metas.get("py_modules") or []:
        _import_file(path.parent / module)
    return resolve_executor_class(data.tag), dict(data.get("with") or {}), metas


def _read_yaml(path: Path) -> Tagged:
    from mesh.yaml.loader import Tagged, load_yaml  # here: a Pea without executor YAML skips PyYAML

    data = load_yaml(path.read_bytes(), source=str(path))
    if not isinstance(data, Tagged):
        raise FlowConfigError(f"{path} must start with the executor's class as a tag, e.g. !MyExecutor")
    unknown = set(data) - {"with", "metas", "requests"}
    if unknown:
        raise FlowConfigError(f"{path}: unknown keys {sorted(unknown)}; allowed are with, metas")
    for module in (data.get("metas") or {}).get("py_modules") or []:
        if not (path.parent / module).is_file():
            raise ExecutorNotFoundError(f"py_modules file {str(path.parent / module)!r} does not exist")
    return data


def _import_file(path: Path) -> None:
    if not path.is_file():
        raise ExecutorNotFoundError(f"py_modules file {str(path)!r} does not exist")
    name = f"mesh_user_{path.stem}_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise FlowConfigError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc


def _takes_metas(cls: type) -> bool:
    import inspect

    params = inspect.signature(cls).parameters
    return "metas" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
