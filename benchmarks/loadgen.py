"""The client process of the core benchmarks: ``python -m benchmarks.loadgen KIND --port P``.

``raw`` drives the pure pyzmq chain with a DEALER; ``mesh`` drives a Flow's gateway with
``mesh.Client``; ``mesh-pair`` drives two Flows (``--port`` twice) in turn, round by round
and sample by sample, so that both see the same moments of a busy machine. Both send the same Documents in the same messages, keep at most
``--window`` messages in flight (the Client's ``prefetch``), and print one JSON object:
docs/s of each round and single-document round-trip statistics. ``mesh`` also sends
the same texts as ``str`` (the Client makes the Documents, as ``index_lines`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import zmq

from benchmarks.report import summary_ms
from benchmarks.workload import frame_bytes, message_frames, short_docs

__all__ = ["main"]

RECV_TIMEOUT_MS = 30_000


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    p.add_argument("kind", choices=["raw", "mesh", "mesh-pair"])
    p.add_argument("--port", type=int, action="append", required=True)
    p.add_argument("--docs", type=int, default=10_000)
    p.add_argument("--request-size", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--latency-samples", type=int, default=500)
    p.add_argument("--window", type=int, default=64)
    return p.parse_args(argv)


def _rounds(send_all: Callable[[], object], rounds: int, docs: int) -> list[float]:
    send_all()  # warm-up: connections, caches, the Peas' first decode
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        send_all()
        rates.append(docs / (time.perf_counter() - t0))
    return rates


# -- raw: a DEALER and pre-built frames ---------------------------------------------------
def _recv(sock: zmq.Socket) -> list[bytes]:
    if not sock.poll(RECV_TIMEOUT_MS):
        raise TimeoutError(f"no reply within {RECV_TIMEOUT_MS} ms")
    return sock.recv_multipart()


def _raw_batch(sock: zmq.Socket, messages: list[list[Any]], window: int) -> None:
    sent = received = 0
    while received < len(messages):
        while sent < len(messages) and sent - received < window:
            sock.send_multipart(messages[sent])
            sent += 1
        _recv(sock)
        received += 1


def _raw(args: argparse.Namespace) -> dict[str, Any]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{args.port[0]}")
    messages = message_frames(short_docs(args.docs), args.request_size)
    singles = [message_frames(short_docs(1, start=i), 1)[0] for i in range(args.latency_samples)]
    rates = _rounds(lambda: _raw_batch(sock, messages, args.window), args.rounds, args.docs)
    latencies = []
    for frames in singles:
        t0 = time.perf_counter()
        sock.send_multipart(frames)
        _recv(sock)
        latencies.append(time.perf_counter() - t0)
    sock.close(0)
    return {"docs_per_s": rates, "latency_ms": summary_ms(latencies),
            "message_bytes": frame_bytes(messages[0]), "single_bytes": frame_bytes(singles[0])}


# -- mesh: the product's Client ----------------------------------------------------------
def _mesh(args: argparse.Namespace) -> dict[str, Any]:
    from mesh import Client

    docs = short_docs(args.docs)
    texts = [d.text for d in docs]
    singles = short_docs(args.latency_samples)
    counted = {"docs": 0, "failed": 0}

    def done(resp: Any) -> None:
        counted["docs"] += resp.num_docs

    def failed(resp: Any) -> None:
        counted["failed"] += 1

    with Client(host="127.0.0.1", port_expose=args.port[0], request_size=args.request_size,
                prefetch=args.window, timeout_s=RECV_TIMEOUT_MS / 1000) as client:
        rates = _rounds(lambda: client.index(docs, on_done=done, on_error=failed),
                        args.rounds, args.docs)
        str_rates = _rounds(lambda: client.index(texts, on_done=done, on_error=failed),
                            args.rounds, args.docs)
        latencies = []
        for doc in singles:
            t0 = time.perf_counter()
            client.index([doc], on_done=done, on_error=failed)
            latencies.append(time.perf_counter() - t0)
    expected = 2 * args.docs * (args.rounds + 1) + args.latency_samples
    if counted["failed"] or counted["docs"] != expected:
        raise RuntimeError(f"{counted['failed']} failed requests; {counted['docs']} of "
                           f"{expected} Documents came back")
    return {"docs_per_s": rates, "str_docs_per_s": str_rates, "latency_ms": summary_ms(latencies)}


def _pair(args: argparse.Namespace) -> dict[str, Any]:
    """Each round and each single-Document sample goes to every Flow in turn (the order
    flips every time), so a burst of load elsewhere on the machine hits them alike."""
    from mesh import Client

    docs, singles = short_docs(args.docs), short_docs(args.latency_samples)
    clients = [Client(host="127.0.0.1", port_expose=port, request_size=args.request_size,
                      prefetch=args.window, timeout_s=RECV_TIMEOUT_MS / 1000) for port in args.port]
    rates: list[list[float]] = [[] for _ in clients]
    latencies: list[list[float]] = [[] for _ in clients]
    try:
        for client in clients:
            _check_all(client.index(docs), args.docs)  # warm-up
        for n in range(args.rounds):
            for i in _turns(len(clients), n):
                t0 = time.perf_counter()
                _check_all(clients[i].index(docs), args.docs)
                rates[i].append(args.docs / (time.perf_counter() - t0))
        for n, doc in enumerate(singles):
            for i in _turns(len(clients), n):
                t0 = time.perf_counter()
                _check_all(clients[i].index([doc]), 1)
                latencies[i].append(time.perf_counter() - t0)
    finally:
        for client in clients:
            client.close()
    return {"by_port": [{"port": port, "docs_per_s": rates[i], "latency_ms": summary_ms(latencies[i])}
                        for i, port in enumerate(args.port)]}


def _turns(count: int, n: int) -> list[int]:
    return list(range(count)) if n % 2 == 0 else list(reversed(range(count)))


def _check_all(responses: Any, docs: int) -> None:
    got = sum(r.num_docs for r in responses or [] if not r.failed)
    if got != docs:
        raise RuntimeError(f"{got} of {docs} Documents came back")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    kinds: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
        "raw": _raw, "mesh": _mesh, "mesh-pair": _pair}
    result = kinds[args.kind](args)
    print(json.dumps({"kind": args.kind, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
