"""``mesh pod --uses _logforward``: run one Pod (and a gateway in front of it) here, or,
with ``--host H --port-expose 8000``, on the jinad at H (see ``mesh.cli.remote_pod``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from mesh.cli.args import json_object, port, positive_float, positive_int
from mesh.cli.jinad_args import DEFAULT_JINAD_PORT, add_token_arg
from mesh.net.hosts import is_remote_host

if TYPE_CHECKING:
    from mesh.flow.flow import Flow
    from mesh.runtime.config import PeaConfig

__all__ = ["describe_pea", "pod_kwargs", "register", "run"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "pod", help="run one Pod until Ctrl-C",
        description="Start one Pod with a gateway in front of it, print its sockets, and serve "
                    "until SIGINT or SIGTERM. With --host (any address but 0.0.0.0, this "
                    "machine's 127.0.0.1 included) the Pod runs on the jinad at "
                    "HOST:PORT_EXPOSE instead: its sockets are printed, its logs are streamed "
                    "here marked with 🌏, and it is removed when this command ends.")
    parser.add_argument("--uses", default="_pass",
                        help="built-in executor (_pass, _logforward, ...), executor YAML, or "
                             "'package.module:Class' (default: _pass)")
    parser.add_argument("--name", help="the Pod's name (default: pod0)")
    parser.add_argument("--port-in", type=port, help="port the Pod receives on (default: free)")
    parser.add_argument("--port-ctrl", type=port, help="control port of its first Pea (default: free)")
    parser.add_argument("--replicas", type=positive_int, default=1, help="number of Peas (default: 1)")
    parser.add_argument("--polling", choices=["any", "all"], default="any",
                        help="any: one replica per request; all: every replica (default: any)")
    parser.add_argument("--uses-with", type=json_object, metavar="JSON",
                        help="executor constructor arguments as a JSON object")
    parser.add_argument("--host", default="0.0.0.0",
                        help="jinad node to run on; 0.0.0.0 runs the Pod in this process's own "
                             "Flow (default: 0.0.0.0)")
    parser.add_argument("--port-expose", type=port,
                        help=f"with --host: its jinad's port (default: {DEFAULT_JINAD_PORT})")
    add_token_arg(parser)
    parser.add_argument("--lease-s", type=positive_float, default=15.0, metavar="SECONDS",
                        help="with --host: the node removes the Pod this long after this command "
                             "stops renewing it, e.g. when killed (default: 15)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if is_remote_host(args.host):
        from mesh.cli.remote_pod import run_remote

        return run_remote(args, pod_kwargs(args))
    return _run_local(args)


def _run_local(args: argparse.Namespace) -> int:
    from mesh.cli.serve import gateway_line, serve
    from mesh.flow.flow import Flow

    if args.port_expose is not None:
        print("note: --port-expose is the port of a remote jinad; a local pod ignores it",
              file=sys.stderr)
    flow = Flow(name=args.name or "pod").add(**pod_kwargs(args))

    def ready(flow: Flow) -> None:
        assert flow.plan is not None
        for pea in flow.plan.pods[0].peas:
            print(describe_pea(pea), flush=True)
        print(gateway_line(flow), flush=True)
        print("ready", flush=True)

    return serve(flow, on_ready=ready)


def pod_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The PodSpec fields the command line sets; unset ones keep the Flow's defaults."""
    kwargs: dict[str, Any] = {"uses": args.uses, "replicas": args.replicas,
                              "polling": args.polling, "uses_with": args.uses_with or {}}
    for key in ("name", "port_in", "port_ctrl"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    return kwargs


def describe_pea(pea: PeaConfig) -> str:
    """``pod0: input ... output ... control over tcp://0.0.0.0:N (ROUTER_BIND)``."""
    inputs = " ".join(s.describe("PULL") for s in pea.inputs) or "-"
    outputs = " ".join(s.describe("PUSH") for s in pea.outputs) or "-"
    return (f"{pea.name}: input {inputs} output {outputs} "
            f"control over tcp://0.0.0.0:{pea.port_ctrl} (ROUTER_BIND)")
