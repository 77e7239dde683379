"""Pod arguments no node could start with, refused at the edge before anything starts.

- A spawn request carries the configuration of each Pea of a pod (its ``uses_with`` and
  ``env`` repeated for every replica), and NATS refuses a message over the broker's
  ``max_payload`` (1 MB by default): large data belongs in an uploaded file that
  ``uses_with`` names (the Flow YAML itself may be large: it is kept in the object store).
- A pod's arguments travel as JSON: text that is not valid Unicode cannot.
- An environment variable's name holds no ``=`` and no NUL, its value no NUL.
- A ready deadline is finite and at most a day, as a spawn request requires.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from mesh.errors import FlowConfigError
from mesh.events.codec import dumps
from mesh.events.models import MAX_LEASE_S, MAX_PORTS
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


def _check_env(pod: PodSpec) -> None:
    for name, value in pod.env.items():
        if not name or "=" in name or "\0" in name:
            raise _refuse(pod, "env", f"{name!r} is not an environment variable name (no '=', "
                          "no NUL, not empty)", name=name)
        if "\0" in value:
            raise _refuse(pod, "env", f"the value of {name} holds a NUL character", name=name)


def _check_deadline(where: str, value: float) -> None:
    if not math.isfinite(value) or value > MAX_LEASE_S:
        raise FlowConfigError(f"{where}timeout_ready_s: {value} is not a finite number of seconds "
                              f"up to {MAX_LEASE_S:g}", detail={"field": "timeout_ready_s"})


def check_startable(pods: Iterable[PodSpec], *, flow_timeout_ready_s: float | None = None) -> None:
    """A FlowConfigError (400) naming the pod and the field for the first pod that breaks a
    rule (and for the Flow's own ready deadline, when given)."""
    if flow_timeout_ready_s is not None:
        _check_deadline("", flow_timeout_ready_s)
    for pod in pods:
        _check_env(pod)
        _check_deadline(f"pod {pod.name!r}: ", pod.timeout_ready_s)
        _check_size(pod)
