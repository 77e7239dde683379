"""What ``encrypt_data`` costs: the two-pod ``_pass`` Flow with its data sockets in the clear
(``plain_*`` figures) and with ZeroMQ CURVE, side by side, trials interleaved
(:mod:`benchmarks.flow_pair`)."""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.flow_pair import run_pair

__all__ = ["run"]


def run(ctx: Context, name: str) -> None:
    run_pair(ctx, name, arg="encrypt_data", off="plain")
