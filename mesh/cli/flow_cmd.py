"""``mesh flow --uses flow.yml``: run a Flow from its YAML in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mesh.cli.args import port
from mesh.cli.jinad_args import add_token_arg, token_of
from mesh.errors import FlowConfigError

if TYPE_CHECKING:
    from mesh.flow.flow import Flow

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "flow", help="run a Flow from a YAML file until Ctrl-C",
        description="Start every Pod of the Flow and its gateway on this machine, print where "
                    "the gateway listens, and serve until SIGINT or SIGTERM.")
    parser.add_argument("--uses", required=True, metavar="FLOW_YAML", help="the Flow's YAML file")
    parser.add_argument("--port-expose", type=port, help="the gateway's ZeroMQ port (default: free)")
    parser.add_argument("--port-http", type=port,
                        help="the gateway's HTTP JSON port (default: free); turns HTTP on")
    add_token_arg(parser)  # for pods whose host: is a jinad node
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mesh.cli.serve import gateway_line, serve

    flow = load_flow(args.uses, port_expose=args.port_expose, port_http=args.port_http)
    flow.token = token_of(args)

    def ready(flow: Flow) -> None:
        print(gateway_line(flow), flush=True)

    return serve(flow, on_ready=ready)


def load_flow(source: str, *, port_expose: int | None = None, port_http: int | None = None) -> Flow:
    """The Flow of a YAML file, with the command line's ports put over the file's."""
    from mesh.flow.flow import Flow

    path = Path(source)
    if not path.is_file():
        raise FlowConfigError(f"flow file {source} not found", detail={"source": source})
    try:
        flow = Flow.load_config(path)
    except OSError as exc:
        raise FlowConfigError(f"cannot read flow file {source}: {exc.strerror}",
                              detail={"source": source}) from exc
    if port_expose is not None:
        flow.spec.port_expose = port_expose
    if port_http is not None:
        flow.spec.http = True
        flow.spec.port_http = port_http
    return flow
