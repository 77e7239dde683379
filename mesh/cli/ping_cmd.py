"""``mesh ping HOST PORT``: is a Pea's control socket answering, and how fast?"""

from __future__ import annotations

import argparse
import time

from mesh.cli.args import port, positive_float, positive_int
from mesh.errors import BadRequestError, RequestTimeoutError, UnavailableError

__all__ = ["ping", "register", "run"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "ping", help="send status requests to a Pea's control port",
        description="Send a status request to the control port of a Pea (or gateway) once per "
                    "round and print how long each answer took. Exits 0 when any round was "
                    "answered, 1 otherwise.")
    parser.add_argument("host", help="address or name of the Pea's machine")
    parser.add_argument("port", type=port, help="the Pea's control port")
    parser.add_argument("--timeout", type=positive_float, default=3.0, metavar="SECONDS",
                        help="how long each round waits for the answer (default: 3)")
    parser.add_argument("--retries", type=positive_int, default=3, metavar="ROUNDS",
                        help="number of rounds (default: 3)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    address = f"tcp://{args.host}:{args.port}"
    latencies_ms = ping(args.host, args.port, rounds=args.retries, timeout_s=args.timeout)
    if not latencies_ms:
        raise UnavailableError(f"{address} did not answer in {args.retries} round(s) "
                               f"of {args.timeout:g} s; is a Pea's control port there?",
                               detail={"host": args.host, "port": args.port})
    print(f"avg. latency: {sum(latencies_ms) / len(latencies_ms):.1f} ms", flush=True)
    return 0


def ping(host: str, port: int, *, rounds: int, timeout_s: float) -> list[float]:
    """Latencies of the rounds that were answered; prints one line per round."""
    import zmq

    from mesh.runtime.control import ctrl_request

    address = f"tcp://{host}:{port}"
    latencies_ms: list[float] = []
    for n in range(1, rounds + 1):
        start = time.perf_counter()
        try:
            ctrl_request(host, port, "status", timeout_s=timeout_s)
        except RequestTimeoutError:
            print(f"ping {address} at {n} round fails: no answer within {timeout_s:g} s", flush=True)
            continue
        except zmq.ZMQError as exc:
            raise BadRequestError(f"cannot ping {address}: {exc}", detail={"host": host}) from exc
        elapsed_ms = (time.perf_counter() - start) * 1000
        latencies_ms.append(elapsed_ms)
        print(f"ping {address} at {n} round takes {elapsed_ms:.1f} ms", flush=True)
    return latencies_ms
