"""Idle memory of a jinad: VmRSS of the daemon, and of its embedded nats-server, after it is
ready and has been idle for 2 s."""

from __future__ import annotations

import time

from benchmarks.context import Context
from benchmarks.procs import children_named, rss_mib

__all__ = ["run"]

IDLE_S = 2.0


def run(ctx: Context, name: str) -> None:
    node = ctx.jinad()
    time.sleep(IDLE_S)  # the measurement's idle interval, not a wait for anything
    pid = node.proc.pid
    params = {"idle_s": IDLE_S, "flows_before": ctx.jinad_flows, "embedded_nats": True}
    ctx.report.emit(name, "jinad_rss_mib", rss_mib(pid), "MiB", params={**params, "pid": pid})
    nats = children_named(pid, "nats-server")
    if len(nats) != 1:
        raise RuntimeError(f"expected one nats-server child of jinad {pid}, found {nats}")
    ctx.report.emit(name, "nats_server_rss_mib", rss_mib(nats[0]), "MiB",
                    params={**params, "pid": nats[0]})
