"""Safe YAML for Flow and executor files: local tags allowed, Python tags refused."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from mesh.errors import FlowConfigError
from mesh.yaml.limits import check_yaml_size

__all__ = ["Tagged", "dump_yaml", "load_yaml", "substitute_env"]

_ENV = re.compile(r"\$\{\{\s*ENV\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Tagged(dict):  # type: ignore[type-arg]
    """A mapping that carried a local tag such as ``!Flow`` or ``!MyExecutor``."""

    def __init__(self, tag: str, value: dict[str, Any]) -> None:
        super().__init__(value)
        self.tag = tag


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.ScalarNode) and not loader.construct_scalar(node):
        value = {}
    else:
        raise FlowConfigError(f"the tag !{suffix} must be followed by a mapping")
    return Tagged(suffix, value)


_Loader.add_multi_constructor("!", _construct_tagged)


def load_yaml(text: str | bytes, *, source: str = "<yaml>") -> Any:
    """Parse YAML; errors name the source and position and say what to fix."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FlowConfigError(f"{source} is not UTF-8 text: {exc}") from exc
    check_yaml_size(text, source=source)  # before loading: aliases could expand to billions
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.constructor.ConstructorError as exc:
        raise FlowConfigError(
            f"{source}: {exc.problem} {exc.problem_mark or ''}".strip()
            + "; Python object tags are refused, name executors with `uses:` instead",
            detail={"source": source},
        ) from exc
    except yaml.YAMLError as exc:
        raise FlowConfigError(f"{source} is not valid YAML: {exc}", detail={"source": source}) from exc
    return substitute_env(data)


def substitute_env(value: Any) -> Any:
    """Replace ``${{ ENV.NAME }}`` in every string; an unset variable is an error."""
    if isinstance(value, str):
        return _ENV.sub(_env_value, value)
    if isinstance(value, Tagged):
        return Tagged(value.tag, {k: substitute_env(v) for k, v in value.items()})
    if isinstance(value, dict):
        return {k: substitute_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v) for v in value]
    return value


def _env_value(match: re.Match[str]) -> str:
    name = match.group(1)
    if name not in os.environ:
        raise FlowConfigError(f"environment variable {name} is not set (used as ${{{{ENV.{name}}}}})")
    return os.environ[name]


class _Dumper(yaml.SafeDumper):
    pass


def _represent_tagged(dumper: _Dumper, data: Tagged) -> yaml.Node:
    return dumper.represent_mapping(f"!{data.tag}", dict(data))


_Dumper.add_representer(Tagged, _represent_tagged)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
