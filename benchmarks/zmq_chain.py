"""The raw limit of issue 2: a pure pyzmq chain of the same shape as a two-pod Flow.

client DEALER -> gateway ROUTER -> PUSH -> worker1 -> PUSH -> worker2 -> PUSH -> gateway
PULL -> ROUTER -> client, each in its own process, forwarding frames without looking at
them. ``python -m benchmarks.zmq_chain gateway|worker ...`` runs one hop.
"""

from __future__ import annotations

import argparse
import os
import sys

import zmq

from benchmarks.context import Context
from benchmarks.load import emit_load, load
from benchmarks.procs import Child, free_port, python_module

__all__ = ["run", "start"]

HWM = 10_000  # as the product's sockets
POLL_MS = 500


# -- the hops -------------------------------------------------------------------------------
def _socket(ctx: zmq.Context, kind: int) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    return sock


def _serve(routes: dict[zmq.Socket, zmq.Socket]) -> None:
    """Forward each message from a key socket to its value socket until the parent is gone."""
    parent = os.getppid()
    poller = zmq.Poller()
    for sock in routes:
        poller.register(sock, zmq.POLLIN)
    print("ready", flush=True)
    while True:
        events = poller.poll(POLL_MS)
        for sock, _ in events:
            routes[sock].send_multipart(sock.recv_multipart())
        if not events and os.getppid() != parent:
            return


def _gateway(args: argparse.Namespace) -> None:
    ctx = zmq.Context()
    front = _socket(ctx, zmq.ROUTER)
    front.bind(f"tcp://127.0.0.1:{args.front}")
    out = _socket(ctx, zmq.PUSH)
    out.connect(f"tcp://127.0.0.1:{args.out}")
    back = _socket(ctx, zmq.PULL)
    back.bind(f"tcp://127.0.0.1:{args.back}")
    _serve({front: out, back: front})  # [client identity, *frames] travels the whole chain


def _worker(args: argparse.Namespace) -> None:
    ctx = zmq.Context()
    pull = _socket(ctx, zmq.PULL)
    pull.bind(f"tcp://127.0.0.1:{args.back}")
    push = _socket(ctx, zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{args.out}")
    _serve({pull: push})


def hop_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.zmq_chain")
    p.add_argument("role", choices=["gateway", "worker"])
    p.add_argument("--front", type=int)
    p.add_argument("--out", type=int, required=True)
    p.add_argument("--back", type=int, required=True, help="the port this hop PULLs on")
    args = p.parse_args(argv)
    (_gateway if args.role == "gateway" else _worker)(args)
    return 0


# -- the benchmark ----------------------------------------------------------------------
def start(ctx: Context) -> tuple[int, list[Child]]:
    """The three hops, ready; the gateway's front port and the hops (stopped with the run)."""
    front, gw_in, w1_in, w2_in = (free_port() for _ in range(4))
    hops = [
        Child(python_module(__name__, "gateway", "--front", str(front), "--out", str(w1_in),
                            "--back", str(gw_in)), name="raw-gateway"),
        Child(python_module(__name__, "worker", "--back", str(w1_in), "--out", str(w2_in)),
              name="raw-worker1"),
        Child(python_module(__name__, "worker", "--back", str(w2_in), "--out", str(gw_in)),
              name="raw-worker2"),
    ]
    for hop in hops:
        ctx.stack.callback(hop.stop)
    for hop in hops:
        hop.wait_line("ready", timeout_s=20)
    return front, hops


def run(ctx: Context, name: str) -> None:
    front, hops = start(ctx)
    result = load(ctx, "raw", front)
    for hop in hops:
        hop.stop()
    emit_load(ctx, name, result, limit_of=None, processes=4)


if __name__ == "__main__":
    sys.exit(hop_main())
