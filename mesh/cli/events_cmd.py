"""``mesh events FLOW --host H [--follow]``: a Flow's lifecycle events (Peas started, ready,
exited, restarted, failed, stopped), from its first one, wherever its Peas run."""

from __future__ import annotations

import argparse
import time
from typing import Any

from mesh.cli.jinad_args import add_edge_args, edge_client
from mesh.cli.logs_cmd import print_stream

__all__ = ["format_event", "register", "run"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "events", help="print the lifecycle events of a flow of the mesh",
        description="Print every lifecycle event of a flow (or a pod from `mesh pod --host`) "
                    "from its first one, one per line as TIME KIND pod/pea@node [exit code] "
                    "detail; any node of the mesh can answer. With --follow, keep printing new "
                    "ones until Ctrl-C or until the flow is deleted.")
    parser.add_argument("id", metavar="FLOW", help="the flow_id (or pod_id)")
    add_edge_args(parser)
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new events until Ctrl-C or the flow is deleted")
    parser.add_argument("--json", action="store_true", help="print each event as a JSON line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    edge = edge_client(args)
    return print_stream(edge, lambda: edge.events(args.id, follow=args.follow), format_event,
                        as_json=args.json)


def format_event(ev: dict[str, Any]) -> str:
    """``12:00:01 exited enc/enc/0@n2 code=-9 <detail>``."""
    when = time.strftime("%H:%M:%S", time.localtime(float(ev.get("time") or 0)))
    code = f" code={ev['exit_code']}" if ev.get("exit_code") is not None else ""
    detail = str(ev.get("detail") or "").replace("\n", " | ")
    return (f"{when} {ev.get('kind')} {ev.get('pod')}/{ev.get('pea')}@{ev.get('node')}{code}"
            + (f" {detail}" if detail else ""))
