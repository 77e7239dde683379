"""``mesh nodes --host H``: the live nodes of the mesh that the jinad at H belongs to;
``mesh cordon NODE --host H`` and ``mesh uncordon NODE --host H``: whether one takes new pods."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mesh import __version__
from mesh.cli.jinad_args import add_edge_args, edge_client, edge_errors
from mesh.cli.table import plural, table

__all__ = ["node_table", "register", "run"]

_COLUMNS = ("NAME", "STATUS", "ADDRESS", "LABELS", "CPUS", "LOAD", "MEM FREE", "PEAS", "VERSION")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "nodes", help="list the live jinad nodes of a mesh",
        description="Ask one jinad for every live node of its mesh: name, the address and port "
                    "of its edge, labels, CPUs, load, free memory, Peas running and version "
                    "(marked * when it differs from this command's).")
    add_edge_args(parser)
    parser.add_argument("--json", action="store_true", help="print the nodes as a JSON list")
    parser.set_defaults(run=run)
    for name, on, what in (("cordon", True, "take no new pods (what it runs stays)"),
                           ("uncordon", False, "take new pods again")):
        sub = commands.add_parser(name, help=f"a node of the mesh: {what}",
                                  description=f"Have the node NODE {what}.")
        sub.add_argument("node", metavar="NODE", help="the node's name (mesh nodes)")
        add_edge_args(sub)
        sub.set_defaults(run=run_cordon, on=on)


def run(args: argparse.Namespace) -> int:
    edge = edge_client(args, timeout_s=30)
    with edge_errors(edge):
        nodes = edge.nodes()
    if args.json:
        print(json.dumps(nodes, indent=2), flush=True)
        return 0
    print(node_table(nodes), flush=True)
    return 0


def run_cordon(args: argparse.Namespace) -> int:
    edge = edge_client(args, timeout_s=30)
    with edge_errors(edge):
        body = edge.cordon(args.node, on=args.on)
    print(f"node {body['node']}: {body['status']}", flush=True)
    return 0


def node_table(nodes: list[dict[str, Any]], version: str = __version__) -> str:
    rows: list[tuple[object, ...]] = []
    differs = False
    for n in sorted(nodes, key=lambda n: str(n.get("name"))):
        other = n.get("version") != version
        differs |= other
        labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("labels") or {}).items()))
        mem = n.get("mem_available_mb")
        rows.append((n.get("name"), n.get("status", "ready"), f"{n.get('address')}:{n.get('port')}",
                     labels,
                     n.get("cpu_count", "?"), f"{float(n.get('load1') or 0):.2f}",
                     f"{mem} MB" if mem is not None else "?", n.get("peas", 0),
                     f"{n.get('version')}{' *' if other else ''}"))
    lines = [table(_COLUMNS, rows), plural(len(nodes), "node")]
    if differs:
        lines.append(f"* a version other than this mesh command's ({version})")
    return "\n".join(lines)
