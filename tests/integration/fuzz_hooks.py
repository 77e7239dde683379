"""Schemathesis hooks for the edge's fuzz run (``SCHEMATHESIS_HOOKS``): pods it starts stay cheap.

A generated ``PUT /pod`` may be a valid pod that really starts. Just before each call (in
every phase), a valid ready deadline below ``READY_S`` is raised to it and a valid replica
count above ``MAX_REPLICAS`` lowered to it, so that the run measures the edge rather than
how many processes two cores start within 5e-324 s (a deadline a Pea cannot meet is a
504, as it should be). Invalid values are left as generated.
"""

from __future__ import annotations

from typing import Any

import schemathesis

READY_S = 20.0
MAX_REPLICAS = 2


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    if (case.method.upper(), case.operation.path) != ("PUT", "/pod") or not isinstance(body, dict):
        return
    if _number(body.get("timeout_ready_s")) and 0 < body["timeout_ready_s"] < READY_S:
        body["timeout_ready_s"] = READY_S
    if type(body.get("replicas")) is int and body["replicas"] > MAX_REPLICAS:
        body["replicas"] = MAX_REPLICAS
