"""``PUT /flow/yaml`` for a 3-pod Flow on 3 nodes: three jinads, each in a network namespace
of its own with its own address, joined by node a's embedded nats-server; the YAML puts
one pod on each node and is sent to node a. Needs root and iproute2 (``tests/netns.py``);
otherwise one ``skipped`` line says why."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.context import Context
from benchmarks.jinad_flow import emit_times, flow_yaml, put_and_delete, serves
from benchmarks.nodes import JinadNode, start_node, stop_node, wait_nodes

__all__ = ["run"]

NAMES = ("a", "b", "c")


def _skip_reason() -> str | None:
    try:
        from tests.netns import available
    except ImportError as exc:
        return f"tests/netns.py cannot be imported: {exc}"
    ok, why = available()
    return None if ok else why


def _start_nodes(ctx: Context) -> list[JinadNode]:
    from tests.netns import Net

    net = Net()
    ctx.stack.callback(net.close)
    hosts = [net.add_host(n) for n in NAMES]

    def start(i: int, nats: str | None) -> JinadNode:
        h = hosts[i]
        node = start_node(ctx.tmp, name=NAMES[i], host=h.ip, advertise=h.ip, nats=nats,
                          prefix=h.exec_argv([]))
        ctx.stack.callback(stop_node, node)
        return node

    first = start(0, None)
    nats = first.nats_url().replace("127.0.0.1", hosts[0].ip)
    with ThreadPoolExecutor(max_workers=2) as pool:
        others = list(pool.map(lambda i: start(i, nats), (1, 2)))
    return [first, *others]


def _placed_and_serving(answer: dict[str, Any]) -> None:
    nodes = [pod.get("node") for pod in answer["pods"]]
    if nodes != list(NAMES):
        raise RuntimeError(f"pods p0..p2 ran on {nodes}, not on {list(NAMES)}")
    serves(answer)


def run(ctx: Context, name: str) -> None:
    why = _skip_reason()
    if why is not None:
        ctx.report.emit(name, "skipped", None, None, params={"reason": why})
        return
    nodes = _start_nodes(ctx)
    wait_nodes(nodes[0], len(nodes), timeout_s=20)
    reps = ctx.pick(3, 1)
    put, delete = put_and_delete(nodes[0].edge, flow_yaml(list(NAMES)), reps,
                                 check=_placed_and_serving)
    emit_times(ctx, name, put, delete, pods=3, nodes=3, uses="_pass",
               put_to=NAMES[0], addresses=[n.host for n in nodes])
