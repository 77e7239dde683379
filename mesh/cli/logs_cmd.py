"""``mesh logs ID --host H``: a flow's or pod's log lines, from its first one, wherever its Peas run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from mesh.cli.jinad_args import add_edge_args, edge_client, edge_errors
from mesh.logs import LEVEL_CHARS

__all__ = ["format_record", "level_char", "print_stream", "register", "run"]

_CHAR_OF = {v: k for k, v in LEVEL_CHARS.items()}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "logs", help="print the log lines of a flow or pod of the mesh",
        description="Print every log line of a flow (or a pod from `mesh pod --host`) from its "
                    "first one, one per line as node/pea@pid[L]:message; any node of the mesh "
                    "can answer. With --follow, keep printing new lines until Ctrl-C or until "
                    "the flow is deleted.")
    parser.add_argument("id", metavar="ID", help="the flow_id (or pod_id)")
    add_edge_args(parser)
    parser.add_argument("--pod", metavar="NAME", help="only the lines of this pod of the flow")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new lines until Ctrl-C or the flow is deleted")
    parser.add_argument("--json", action="store_true", help="print each record as a JSON line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    edge = edge_client(args)
    return print_stream(edge, lambda: edge.logs(args.id, pod=args.pod, follow=args.follow),
                        format_record, as_json=args.json)


def print_stream(edge: Any, records: Callable[[], Iterable[dict[str, Any]]],
                 show: Callable[[dict[str, Any]], str], *, as_json: bool) -> int:
    """Print each record of a stream of the edge (one line each, or JSON lines) until it
    ends, Ctrl-C (the way to stop --follow) or a closed pipe (``| head``)."""
    from mesh.cli.serve import signals_interrupt

    line = (lambda rec: json.dumps(rec, ensure_ascii=False)) if as_json else show
    with edge_errors(edge), signals_interrupt():
        try:
            for rec in records():
                print(line(rec), flush=True)
        except KeyboardInterrupt:
            return 0
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return 0


def format_record(rec: dict[str, Any]) -> str:
    """``node/pea@pid[L]:message``, the Pea's own line form behind the node's name."""
    return (f"{rec.get('node')}/{rec.get('pea') or rec.get('pod')}@{rec.get('pid') or 0}"
            f"[{level_char(rec)}]:{rec.get('message', '')}")


def level_char(rec: dict[str, Any]) -> str:
    """The one-letter level of a record (I, W, E...), as a Pea's own log line shows it."""
    return _CHAR_OF.get(str(rec.get("level", "INFO")), "I")
