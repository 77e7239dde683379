"""What one Prometheus scrape of a node costs: ``GET /metrics`` of a jinad running 20 Peas
(a Flow of 4 pods with 3 replicas each and a head and a tail apiece: 5 Peas a pod; and
its gateway), each Pea asked for its figures on its control socket at scrape time."""

from __future__ import annotations

import time

import requests

from benchmarks.context import Context
from benchmarks.report import median

__all__ = ["run"]

PODS, REPLICAS = 4, 3  # 4 pods x (3 replicas + head + tail) = 20 Peas, and the gateway


def run(ctx: Context, name: str) -> None:
    node = ctx.jinad()
    pods = "".join(f"  - name: p{i}\n    replicas: {REPLICAS}\n" for i in range(PODS))
    answer = node.edge.create_flow(f"!Flow\nversion: '1'\npods:\n{pods}")
    ctx.jinad_flows += 1
    try:
        url = f"{node.edge.base}/metrics"
        times, size = [], 0
        for _ in range(ctx.pick(20, 5)):
            t0 = time.perf_counter()
            r = requests.get(url, timeout=30)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            size = len(r.content)
        peas = sum(len(p["peas"]) for p in answer["pods"])
        ctx.report.emit(name, "scrape_s", median(times), "s",
                        params={"peas": peas, "gateway": 1, "bytes": size, "scrapes": len(times)})
    finally:
        node.edge.delete_flow(answer["flow_id"])
