"""Pod arguments no node could start with, refused at the edge before anything starts.

- A spawn request carries the configuration of each Pea of a pod (its ``uses_with`` and
  ``env`` repeated for every replica), and NATS refuses a message over the broker's
  ``max_payload`` (1 MB by default): large data belongs in an uploaded file that
  ``uses_with`` names (the Flow YAML itself may be large: it is kept in the object store).
- A pod's arguments travel as JSON: text that is not valid Unicode cannot.

(Environment names and ready deadlines are the pod model's own rules: mesh/flow/spec.py.)
"""

from __future__ import annotations

from collections.abc import Iterable

from mesh.errors import FlowConfigError
from mesh.events.codec import dumps
from mesh.events.models import MAX_PORTS
from mesh.flow.spec import PodSpec

__all__ = ["SPAWN_BYTES_MAX", "check_startable"]

SPAWN_BYTES_MAX = 768 * 1024  # under max_payload, with room for the sockets and the envelope


def _refuse(pod: PodSpec, field: str, why: str, **detail: object) -> FlowConfigError:
    return FlowConfigError(f"pod {pod.name!r}: {field}: {why}",
                           detail={"pod": pod.name, "field": field, **detail})


def _peas(pod: PodSpec) -> int:
    return pod.replicas + (2 if pod.replicas > 1 else 0)  # replicas, and a head and a tail


def _check_size(pod: PodSpec) -> None:
    try:
        per_pea = len(dumps({"uses_with": pod.uses_with, "env": pod.env}))
        dumps(pod.model_dump(mode="json"))
    except ValueError as exc:
        raise _refuse(pod, "uses_with", f"cannot travel as JSON ({exc})") from exc
    total = per_pea * _peas(pod)
    if 2 * (pod.replicas + 2) + 1 > MAX_PORTS:
        return  # more replicas than a node has ports for: the placement says so (a 400)
    if total > SPAWN_BYTES_MAX:
        raise _refuse(pod, "uses_with", f"uses_with and env come to {per_pea} bytes per Pea, "
                      f"{total} bytes for its {_peas(pod)} Peas, more than the {SPAWN_BYTES_MAX} "
                      "bytes one message on the mesh carries; put large data in an uploaded file "
                      "and name it in uses_with", bytes=total, max_bytes=SPAWN_BYTES_MAX)


def check_startable(pods: Iterable[PodSpec]) -> None:
    """A FlowConfigError (400) naming the pod and the field for the first pod that breaks a
    rule."""
    for pod in pods:
        _check_size(pod)
