"""Uploaded YAML is measured before it is loaded: a few kilobytes of nested anchors and
aliases ("billion laughs") expand to billions of values, and deep nesting exhausts the
loader's recursion; either would stall the daemon that loads it."""

from __future__ import annotations

import yaml

from mesh.errors import FlowConfigError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "check_yaml_size"]

MAX_VALUES = 100_000
MAX_DEPTH = 64
_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def check_yaml_size(text: str | bytes, *, source: str, max_values: int = MAX_VALUES,
                    max_depth: int = MAX_DEPTH) -> None:
    """Raise FlowConfigError if the YAML, aliases expanded, holds more than ``max_values``
    values or nests deeper than ``max_depth``. Reads parser events only (linear in the
    text); a syntax error is left for the loader to report."""
    sizes: dict[str, int] = {}  # anchor -> values under it, expanded
    anchors: list[str | None] = [None]  # of each open collection (and the stream)
    counts: list[int] = [0]  # values in each open collection so far
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, _START):
                anchors.append(event.anchor)
                counts.append(1)
                if len(counts) > max_depth:
                    raise _refused(f"{source} nests deeper than {max_depth} levels", source)
                continue
            if isinstance(event, _END):
                anchor, n = anchors.pop(), counts.pop()
            elif isinstance(event, yaml.AliasEvent):
                anchor, n = None, sizes.get(event.anchor or "", 1)
            elif isinstance(event, yaml.ScalarEvent):
                anchor, n = event.anchor, 1
            else:
                continue
            if anchor:
                sizes[anchor] = n
            counts[-1] += n
            if counts[-1] > max_values:
                raise _refused(f"{source} holds more than {max_values} values once its aliases "
                               "are expanded; write the values out instead of nesting anchors",
                               source)
    except yaml.YAMLError:
        return


def _refused(message: str, source: str) -> FlowConfigError:
    return FlowConfigError(message, detail={"source": source})
