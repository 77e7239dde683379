"""Issue 4's figures: how soon a Pea in a container is ready, and what a container in the
middle of a Flow costs beside the same Flow all in processes, measured in one run.

- ``ready_s`` / ``close_s``: a Flow of one pod with ``image=`` (one replica, so one
  container; the gateway is a process): ``Flow.start()`` until it returns, i.e. until every
  Pea, the container included, answered on its control socket; then ``Flow.close()``, which
  returns once the container is removed. The plain figure (container create + start + the
  image's Python importing mesh + ready), median of 10 Flows (3 with ``--quick``).
- ``docs_per_s``, ``latency_p50_ms``, ``latency_p99_ms``: three ``_pass`` pods whose middle
  one runs in a container (default network: its own, ports published on the host, the
  neighbours dialled at ``host.docker.internal``); the Client in another process, as for
  ``flow_pass`` (10,000 Documents, ``request_size=100``). The same Flow all in processes is
  measured first, in the same run: its figures are the ``limit`` of these, and their own
  lines ``process_docs_per_s``, ``process_latency_p50_ms``, ``process_latency_p99_ms``.
  ``docs_per_s_ratio`` is container / processes.
- The pods use ``_pass``: the image holds the ``mesh`` package but not ``benchmarks`` (the
  Dockerfile copies the package only), so ``benchmarks.executors:ReadText`` would need a
  mount and ``PYTHONPATH``; ``_pass`` keeps the two Flows identical.

Without a Docker engine or without the image: one ``skipped`` line saying why.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks.context import Context
from benchmarks.flow_core import start_close_times
from benchmarks.load import load
from benchmarks.report import median
from mesh import Flow

__all__ = ["run"]

IMAGE = os.environ.get("MESH_IMAGE", "jinad-mesh:latest")
USES = "_pass"


def _skip_reason() -> str | None:
    from mesh.errors import MeshError
    from mesh.launchers.docker import docker_client

    try:
        client = docker_client()
    except MeshError as exc:
        return exc.message
    try:
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - docker.errors.ImageNotFound, or the engine's error
        return f"image {IMAGE} is not on the Docker engine ({type(exc).__name__}); build it " \
               "with `bash .ci/build-images.sh`"
    return None


def _one_image_pod() -> Flow:
    return Flow(name="bench-ctr").add(name="ctr", uses=USES, image=IMAGE)


def _three_pods(*, container: bool) -> Flow:
    middle: dict[str, Any] = {"image": IMAGE} if container else {}
    return (Flow(name="bench-3").add(name="p1", uses=USES)
            .add(name="p2", uses=USES, **middle).add(name="p3", uses=USES))


def _measure(ctx: Context, *, container: bool) -> dict[str, Any]:
    flow = _three_pods(container=container)
    ctx.stack.callback(flow.close)
    with flow:
        return load(ctx, "mesh", flow.port_expose)


def _our_containers() -> list[Any]:
    """Containers that Flows of this process made (label ``mesh.owner``) and that are still there."""
    from mesh.launchers.docker import LABEL, docker_client, owner_label

    return list(docker_client().containers.list(
        all=True, filters={"label": f"{LABEL}.owner={owner_label()}"}))


def run(ctx: Context, name: str) -> None:
    reason = _skip_reason()
    if reason:
        ctx.report.emit(name, "skipped", None, None, params={"reason": reason})
        return
    cycles = ctx.pick(10, 3)
    ready, closed = start_close_times(_one_image_pod, cycles)
    base = {"image": IMAGE, "uses": USES, "network": "bridge (ports published)"}
    for metric, samples in (("ready_s", ready), ("close_s", closed)):
        ctx.report.emit(name, metric, median(samples), "s", params={
            **base, "pods": 1, "replicas": 1, "cycles": cycles,
            "samples_s": [round(s, 4) for s in samples]})

    procs = _measure(ctx, container=False)
    ctr = _measure(ctx, container=True)
    in_procs = {"uses": USES, "pods": 3, "container_pod": None, **dict(procs["params"])}
    shape = {**base, "pods": 3, "container_pod": "p2 (middle)", **dict(ctr["params"])}
    p_rates, c_rates = list(procs["docs_per_s"]), list(ctr["docs_per_s"])
    p_lat, c_lat = dict(procs["latency_ms"]), dict(ctr["latency_ms"])
    ctx.report.emit(name, "process_docs_per_s", median(p_rates), "docs/s", params={
        **in_procs, "rounds_docs_per_s": [round(r) for r in p_rates]})
    for q in ("p50", "p99"):
        ctx.report.emit(name, f"process_latency_{q}_ms", p_lat[q], "ms", params={
            **in_procs, "min_ms": round(p_lat["min"], 3), "max_ms": round(p_lat["max"], 3)})
    ctx.report.emit(name, "docs_per_s", median(c_rates), "docs/s", limit=median(p_rates),
                    params={**shape, "rounds_docs_per_s": [round(r) for r in c_rates]})
    for q in ("p50", "p99"):
        ctx.report.emit(name, f"latency_{q}_ms", c_lat[q], "ms", limit=p_lat[q], params={
            **shape, "min_ms": round(c_lat["min"], 3), "max_ms": round(c_lat["max"], 3)})
    ctx.report.emit(name, "docs_per_s_ratio", median(c_rates) / median(p_rates), None,
                    params={"what": "container Flow docs/s / all-process Flow docs/s"})

    left = _our_containers()
    if left:
        for c in left:
            c.remove(force=True)
        raise RuntimeError(f"containers left behind by the Flows: {[c.name for c in left]}")
