"""``mesh status FLOW --host H``: one Flow's status, gateway, pods and Peas."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mesh.cli.flows_cmd import gateway_of
from mesh.cli.jinad_args import add_edge_args, edge_client, edge_errors
from mesh.cli.table import table

__all__ = ["register", "run", "status_text"]

POD_COLUMNS = ("POD", "NODE", "REPLICAS", "STATUS", "USES")
PEA_COLUMNS = ("PEA", "POD", "NODE", "PID", "CTRL", "IN", "OUT")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "status", help="show one Flow of a mesh: its gateway, pods and Peas",
        description="Ask one jinad for a Flow: its status, the gateway's host:port (what a "
                    "Client dials), one row per pod (node, replicas, status) and one per Pea "
                    "(pid and ports).")
    parser.add_argument("flow_id", metavar="FLOW", help="the flow_id")
    add_edge_args(parser)
    parser.add_argument("--json", action="store_true", help="print GET /flow/{id}'s JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    edge = edge_client(args, timeout_s=30)
    with edge_errors(edge):
        flow = edge.get_flow(args.flow_id)
    print(json.dumps(flow, indent=2) if args.json else status_text(flow), flush=True)
    return 0


def status_text(flow: dict[str, Any]) -> str:
    pods = flow.get("pods") or []
    gw = flow.get("gateway") or {}
    head = table(("FLOW", "STATUS", "GATEWAY", "GATEWAY NODE"),
                 [(flow.get("flow_id"), flow.get("status"), gateway_of(flow), gw.get("node"))])
    pod_rows = [(p.get("name"), p.get("node"), p.get("replicas"), p.get("status"), p.get("uses"))
                for p in pods]
    pea_rows = [(e.get("name"), p.get("name"), p.get("node"), e.get("pid"), e.get("port_ctrl"),
                 e.get("port_in"), ",".join(str(o) for o in e.get("ports_out") or []))
                for p in pods for e in p.get("peas") or []]
    return "\n\n".join([head, table(POD_COLUMNS, pod_rows), table(PEA_COLUMNS, pea_rows)])
