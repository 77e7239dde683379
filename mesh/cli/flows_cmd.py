"""``mesh flows --host H``: every Flow of the mesh, one row each."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from mesh.cli.jinad_args import add_edge_args, edge_client, edge_errors
from mesh.cli.table import plural, table

__all__ = ["flow_table", "register", "run"]

_COLUMNS = ("FLOW", "STATUS", "GATEWAY", "PODS", "NODES", "ORIGIN", "AGE")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "flows", help="list the Flows of a mesh",
        description="Ask one jinad for every Flow of its mesh: id, status, gateway address "
                    "(what a Client dials), pods, the nodes they run on, the node that "
                    "created it and its age.")
    add_edge_args(parser)
    parser.add_argument("--json", action="store_true", help="print the Flows as a JSON list")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    edge = edge_client(args, timeout_s=30)
    with edge_errors(edge):
        flows = edge.flows()
    print(json.dumps(flows, indent=2) if args.json else flow_table(flows), flush=True)
    return 0


def gateway_of(flow: dict[str, Any]) -> str | None:
    return f"{flow['host']}:{flow['port']}" if flow.get("host") and flow.get("port") else None


def age(created: object, now: float | None = None) -> str:
    """``42s``, ``7m``, ``3h``, ``2d`` since epoch seconds ``created``."""
    if not isinstance(created, (int, float)):
        return "?"
    s = max(0, int((now or time.time()) - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def flow_table(flows: list[dict[str, Any]]) -> str:
    rows: list[tuple[object, ...]] = []
    for f in sorted(flows, key=lambda f: float(f.get("created") or 0)):
        pods = f.get("pods") or []
        nodes = sorted({str(p.get("node")) for p in pods})
        rows.append((f.get("flow_id"), f.get("status"), gateway_of(f),
                     ",".join(str(p.get("name")) for p in pods), ",".join(nodes),
                     f.get("origin"), age(f.get("created"))))
    return "\n".join([table(_COLUMNS, rows), plural(len(flows), "flow")])
