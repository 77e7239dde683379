"""What counting costs: the two-pod ``_pass`` Flow with its Peas' metrics off
(``metrics: false``, the ``off_*`` figures) and on (the default), side by side, trials
interleaved (:mod:`benchmarks.flow_pair`). The target: within 5 %."""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.flow_pair import run_pair

__all__ = ["run"]


def run(ctx: Context, name: str) -> None:
    run_pair(ctx, name, arg="metrics", off="off")
