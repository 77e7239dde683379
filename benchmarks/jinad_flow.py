"""Time from ``PUT /flow/yaml`` to its answer for a 3-pod Flow on one jinad (and the
``DELETE /flow`` that follows)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.context import Context
from benchmarks.report import median

__all__ = ["flow_yaml", "put_and_delete", "run"]


def flow_yaml(hosts: list[str | None], *, uses: str = "_pass") -> str:
    """A Flow YAML with one pod per entry of ``hosts`` (a node name, or None for any)."""
    lines = ["!Flow", "version: '1'", "pods:"]
    for i, host in enumerate(hosts):
        lines += [f"  - name: p{i}", f"    uses: {uses}"]
        if host:
            lines.append(f"    host: {host}")
    return "\n".join(lines) + "\n"


def put_and_delete(edge: Any, yaml_text: str, reps: int, *,
                   check: Callable[[dict[str, Any]], None] | None = None,
                   ) -> tuple[list[float], list[float]]:
    """Create and delete the Flow ``reps`` times; ``check`` looks at each answer, untimed."""
    put, delete = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        answer = edge.create_flow(yaml_text)
        put.append(time.perf_counter() - t0)
        try:
            if check is not None:
                check(answer)
        finally:
            t0 = time.perf_counter()
            edge.delete_flow(answer["flow_id"])
        delete.append(time.perf_counter() - t0)
    return put, delete


def emit_times(ctx: Context, name: str, put: list[float], delete: list[float],
               **params: Any) -> None:
    for metric, samples in (("put_flow_s", put), ("delete_flow_s", delete)):
        ctx.report.emit(name, metric, median(samples), "s", params={
            **params, "reps": len(samples), "samples_s": [round(s, 4) for s in samples]})


def serves(answer: dict[str, Any]) -> None:
    """The Flow just created answers one request through its gateway."""
    from mesh import Client, Document

    failed: list[Any] = []
    with Client(host=answer["host"], port_expose=answer["port"], timeout_s=10) as client:
        client.index([Document(text="x")], on_done=lambda _r: None, on_error=failed.append)
    if failed:
        raise RuntimeError(f"the Flow failed a request: {failed[0].status}")


def run(ctx: Context, name: str) -> None:
    node = ctx.jinad()
    reps = ctx.pick(5, 2)
    put, delete = put_and_delete(node.edge, flow_yaml([None] * 3), reps, check=serves)
    ctx.jinad_flows += reps
    emit_times(ctx, name, put, delete, pods=3, nodes=1, uses="_pass")
