"""Flow YAML: read a ``!Flow`` file or text into the Flow's arguments and pods, and write
them back. ``Flow.load_config`` and ``Flow.to_yaml`` build on it: a loaded Flow equals the
one ``Flow().add(...)`` builds with the same arguments, and dumping it loads back equal.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mesh.errors import FlowConfigError
from mesh.flow.spec import GATEWAY, FlowDocument, FlowSpec, PodSpec
from mesh.flow.topology import check_graph
from mesh.yaml.loader import Tagged, dump_yaml, load_yaml

__all__ = ["FLOW_YAML_EXAMPLE", "read_flow_yaml", "write_flow_yaml"]

FLOW_YAML_EXAMPLE = """\
!Flow
version: '1'
pods:
  - name: pod0
    uses: _logforward
  - name: pod1
    uses: _logforward"""

_VERSIONS = ("1", 1)
_TOP_KEYS = ("version", "with", "env", "pods")
_PATH_FIELDS = ("uses", "uses_before", "uses_after")
_STR_MAPS = ("env", "labels")
_TEXT_SOURCE = "<Flow YAML text>"
_TEXT_HINT = "; to pass YAML text instead of a path, start it with !Flow or give several lines"


# -- loading ------------------------------------------------------------------
def read_flow_yaml(source: str | Path) -> tuple[FlowSpec, list[PodSpec]]:
    """The Flow's own arguments and its pods, from a YAML file path or from YAML text."""
    text, label, base_dir = _read_source(source)
    try:
        data = load_yaml(text, source=label)
    except FlowConfigError as exc:
        raise _prefixed(exc, label) from exc
    try:
        return _build(_flow_mapping(data), base_dir)
    except FlowConfigError as exc:
        raise _prefixed(exc, label) from exc


def _read_source(source: str | Path) -> tuple[str, str, Path | None]:
    """The YAML text, a label for error messages, and the folder relative paths start from."""
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("!")):
        return source, _TEXT_SOURCE, None
    path = Path(source)
    if not path.is_file():
        hint = "" if isinstance(source, Path) else _TEXT_HINT
        raise FlowConfigError(
            f"Flow YAML file not found: {path}{hint}", detail={"source": str(path)}
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowConfigError(
            f"cannot read Flow YAML {path}: {exc}", detail={"source": str(path)}
        ) from exc
    return text, str(path), path.resolve().parent


def _prefixed(exc: FlowConfigError, label: str) -> FlowConfigError:
    message = exc.message if exc.message.startswith(label) else f"{label}: {exc.message}"
    return type(exc)(message, detail={**exc.detail, "source": label})


def _not_a_flow(why: str) -> FlowConfigError:
    return FlowConfigError(
        f"this is not a Flow YAML: {why}. A Flow YAML looks like:\n{FLOW_YAML_EXAMPLE}"
    )


def _flow_mapping(data: Any) -> dict[str, Any]:
    if isinstance(data, Tagged):
        if data.tag != "Flow":
            raise _not_a_flow(f"it is tagged !{data.tag}, not !Flow")
        return dict(data)
    if not isinstance(data, dict):
        raise _not_a_flow(f"the document is a {type(data).__name__}, not a mapping")
    if "pods" not in data:
        raise _not_a_flow("it has no `pods:` and no !Flow tag")
    return data


def _build(data: dict[str, Any], base_dir: Path | None) -> tuple[FlowSpec, list[PodSpec]]:
    unknown = [str(k) for k in data if k not in _TOP_KEYS]
    if unknown:
        raise FlowConfigError(
            f"unknown top-level key {unknown[0]!r}{_suggest(unknown[0], _TOP_KEYS)}; "
            f"a Flow YAML has {', '.join(_TOP_KEYS)}",
            detail={"key": unknown[0]},
        )
    version = data.get("version", "1")
    if version not in _VERSIONS or isinstance(version, bool):
        raise FlowConfigError(
            f"version {version!r} is not supported; this release reads version: '1'",
            detail={"version": str(version)},
        )
    raw_pods = _pod_list(data.get("pods"))
    labels = [_label(i, p) for i, p in enumerate(raw_pods)]
    doc = _validate(
        {
            "with": _with_block(data.get("with")),
            "env": _str_values(data.get("env")),
            "pods": raw_pods,
        },
        labels,
    )
    spec = doc.with_.model_copy(update={"env": {**doc.with_.env, **doc.env}})
    pods = [_prepare_pod(pod, label, base_dir) for pod, label in zip(doc.pods, labels)]
    _check_needs(pods)
    return spec, pods


def _pod_list(pods: Any) -> list[dict[str, Any]]:
    """``pods:`` as a list of argument mappings; the older form keys them by name."""
    if pods is None:
        return []
    if isinstance(pods, dict):
        out = []
        for name, args in pods.items():
            args = {} if args is None else args
            if not isinstance(args, dict):
                raise FlowConfigError(
                    f"pod {name!r}: its arguments must be a mapping, not {type(args).__name__}",
                    detail={"pod": str(name)},
                )
            if "name" in args and args["name"] != name:
                raise FlowConfigError(
                    f"pod {name!r}: name {args['name']!r} differs from its key",
                    detail={"pod": str(name)},
                )
            out.append({**args, "name": name})
        return [_normalise_pod(p) for p in out]
    if isinstance(pods, list):
        for i, args in enumerate(pods):
            if not isinstance(args, dict):
                raise FlowConfigError(
                    f"pods[{i}] must be a mapping of pod arguments such as "
                    f"`name: pod{i}`, not {type(args).__name__}",
                    detail={"pod": f"pod{i}"},
                )
        return [_normalise_pod(dict(p)) for p in pods]
    raise FlowConfigError(
        f"`pods:` must be a list of pods (or a mapping keyed by pod name), "
        f"not {type(pods).__name__}"
    )


def _normalise_pod(args: dict[str, Any]) -> dict[str, Any]:
    for key in _STR_MAPS:
        if key in args:
            args[key] = _str_values(args[key])
    return args


def _with_block(value: Any) -> Any:
    if isinstance(value, dict) and "env" in value:
        return {**value, "env": _str_values(value["env"])}
    return {} if value is None else value


def _str_values(value: Any) -> Any:
    """YAML reads ``PORT: 8080`` as a number; environment and label values are text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return value
    return {k: _scalar_text(v) for k, v in value.items()}


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


def _label(index: int, pod: dict[str, Any]) -> str:
    name = pod.get("name")
    return name if isinstance(name, str) and name else f"pod{index}"


def _validate(data: dict[str, Any], labels: list[str]) -> FlowDocument:
    try:
        return FlowDocument.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_problem(err, labels) for err in errors]
        hints = {
            model
            for err in errors
            if err["type"] == "extra_forbidden"
            for model in [_scope(err["loc"], labels)[2]]
        }
        problems += [
            f"{what} takes {', '.join(model.model_fields)}"
            for what, model in (("a pod", PodSpec), ("`with:`", FlowSpec))
            if model in hints
        ]
        first = errors[0]["loc"]
        index = first[1] if first[:1] == ("pods",) and len(first) > 1 else None
        detail = {"pod": labels[index]} if isinstance(index, int) else {}
        raise FlowConfigError("; ".join(problems), detail=detail) from exc


def _scope(loc: tuple[int | str, ...], labels: list[str]) -> tuple[str, list[int | str], type[Any]]:
    """Where an error is (``pod 'x': ``), the rest of its location, and the model there."""
    if loc[:1] == ("pods",) and len(loc) > 1 and isinstance(loc[1], int):
        return f"pod {labels[loc[1]]!r}: ", list(loc[2:]), PodSpec
    if loc[:1] == ("with",):
        return "with: ", list(loc[1:]), FlowSpec
    return "", list(loc), FlowDocument


def _problem(err: ErrorDetails, labels: list[str]) -> str:
    where, loc, model = _scope(err["loc"], labels)
    key = ".".join(str(x) for x in loc) or "value"
    if err["type"] == "extra_forbidden":
        return f"{where}unknown key {key!r}{_suggest(key, model.model_fields)}"
    return f"{where}{key}: {err['msg']}"


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _prepare_pod(pod: PodSpec, label: str, base_dir: Path | None) -> PodSpec:
    if pod.method == "needs" and not pod.needs:
        raise FlowConfigError(
            f"pod {label!r}: `method: needs` requires `needs:` naming the pods it waits for",
            detail={"pod": label},
        )
    update: dict[str, Any] = {"method": None}
    if base_dir is not None:
        for key in _PATH_FIELDS:
            value = getattr(pod, key)
            if (
                isinstance(value, str)
                and value.endswith((".yml", ".yaml"))
                and not Path(value).is_absolute()
            ):
                candidate = base_dir / value
                if candidate.is_file():
                    update[key] = str(candidate.resolve())
    return pod.model_copy(update=update)


def _check_needs(pods: list[PodSpec]) -> None:
    """The whole graph first (so a cycle is reported as one), then the order of ``pods:``."""
    filled: list[PodSpec] = []
    for i, pod in enumerate(pods):
        name = pod.name or f"pod{i}"
        needs = pod.needs if pod.needs is not None else [filled[-1].name if filled else GATEWAY]
        filled.append(pod.model_copy(update={"name": name, "needs": needs}))
    names = [p.name for p in filled]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise FlowConfigError(
            f"two pods are named {twice!r}; pod names must be unique", detail={"pod": twice}
        )
    check_graph(filled)
    seen: set[str | None] = {GATEWAY}
    for pod in filled:
        later = [n for n in pod.needs or [] if n not in seen]
        if later:
            raise FlowConfigError(
                f"pod {pod.name!r} needs {later[0]!r}, which is listed after it; "
                "list every pod after the pods it needs",
                detail={"pod": pod.name},
            )
        seen.add(pod.name)


# -- dumping --------------------------------------------------------------------
def write_flow_yaml(spec: FlowSpec, pods: list[PodSpec]) -> str:
    """``!Flow`` YAML with only non-default arguments; loads back to an equal Flow."""
    body: dict[str, Any] = {"version": "1"}
    spec_args = _non_default(spec, ())
    if spec_args:
        body["with"] = spec_args
    previous = GATEWAY
    entries = []
    for pod in pods:
        args: dict[str, Any] = {"name": pod.name}
        args.update(_non_default(pod, ("name", "method")))
        if pod.needs is None or pod.needs == [previous]:
            args.pop("needs", None)
        entries.append(args)
        previous = pod.name or GATEWAY
    body["pods"] = entries
    try:
        return dump_yaml(Tagged("Flow", body))
    except yaml.YAMLError as exc:
        raise FlowConfigError(
            f"the Flow holds a value YAML cannot write (use lists, mappings, "
            f"strings and numbers in uses_with): {exc}"
        ) from exc


def _non_default(model: PodSpec | FlowSpec, skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        if name in skip:
            continue
        value = getattr(model, name)
        if value != field.get_default(call_default_factory=True):
            out[name] = copy.deepcopy(value)  # no shared objects, so no YAML anchors
    return out
