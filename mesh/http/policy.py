"""What this edge lets a Flow or pod run: executors and images by allow-list, uploads or not.

The operator's rules (``jinad --allow-uses``, ``--allow-images``, ``--no-uploads``) are
checked before anything starts: a pod that breaks one is a 403 naming the pod, the field,
the value and the rule. Patterns are ``fnmatch`` patterns, matched case-sensitively
against the value as written (``_*``, ``myorg.executors.*``, ``registry.local/team/*``).
Built-in executors (``_pass``, ``_logforward``, ``_merge``...) are the node's own code and
are always allowed; a name like ``_nope`` is then refused as unknown (400).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from mesh.errors import ForbiddenError
from mesh.executors.loader import is_yaml_path
from mesh.flow.spec import PodSpec

__all__ = ["EdgePolicy"]

_USES_FIELDS = ("uses", "uses_before", "uses_after")


def _builtin(uses: str) -> bool:
    return uses.startswith("_") and not is_yaml_path(uses)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True)
class EdgePolicy:
    """The edge's rules; empty lists allow everything."""

    allow_uses: tuple[str, ...] = ()
    allow_images: tuple[str, ...] = ()
    no_uploads: bool = False

    def check_pods(self, pods: Iterable[PodSpec]) -> None:
        """A ForbiddenError for the first pod whose ``uses*`` or ``image`` no rule allows."""
        for pod in pods:
            name = pod.name or ""
            for field in _USES_FIELDS:
                value = getattr(pod, field)
                if isinstance(value, str):
                    self._check_uses(name, field, value)
            if pod.image is not None:
                self._check_image(name, pod.image)

    def check_peas(self, pod: str, peas: Iterable[dict[str, Any]]) -> None:
        """The same rules for Pea configurations a caller planned (``PUT /pod`` with ``peas``)."""
        for i, pea in enumerate(peas):
            if pea.get("kind", "pea") != "pea":
                continue
            uses, image = pea.get("uses", "_pass"), pea.get("image")
            if isinstance(uses, str):
                self._check_uses(pod, f"peas.{i}.uses", uses)
            if isinstance(image, str):
                self._check_image(pod, image, field=f"peas.{i}.image")

    def check_uploads(self, files: dict[str, bytes]) -> None:
        if self.no_uploads and files:
            names = sorted(files)
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise ForbiddenError(
                f"this node takes no uploaded files (jinad --no-uploads), and the Flow uploads "
                f"{len(names)}: {shown}; use executors installed on the node",
                detail={"rule": "no_uploads", "files": names[:50]})

    def _check_uses(self, pod: str, field: str, uses: str) -> None:
        if not _builtin(uses):  # the node's own code always passes
            _check_allowed(pod, field, uses, self.allow_uses, "allow_uses")

    def _check_image(self, pod: str, image: str, *, field: str = "image") -> None:
        _check_allowed(pod, field, image, self.allow_images, "allow_images")


def _check_allowed(pod: str, field: str, value: str, patterns: tuple[str, ...], rule: str) -> None:
    """A 403 naming the pod, field, value and rule when ``value`` matches none of ``patterns``
    (no patterns: everything is allowed)."""
    if not patterns or _matches(value, patterns):
        return
    flag = "--" + rule.replace("_", "-")
    raise ForbiddenError(
        f"pod {pod!r}: {field}={value!r} matches none of this node's {flag} patterns "
        f"({' '.join(patterns)})",
        detail={"pod": pod, "field": field, "value": value, "rule": rule,
                "patterns": list(patterns)})
