"""``mesh export compose|kubernetes FLOW.yml [-o OUT]``: the Flow for Compose or Kubernetes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mesh.cli.args import port

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "export", help="write a Flow as a Compose file or Kubernetes manifests",
        description="Plan the Flow for a deployment without the mesh: a service per Pea (or "
                    "per replicated pod) that dials the others by their service names, on "
                    "fixed ports, with health checks and the executor files mounted. Pods "
                    "with host: are refused. The output holds the Flow's keys.")
    parser.add_argument("format", metavar="FORMAT", help="compose or kubernetes")
    parser.add_argument("flow_yaml", metavar="FLOW_YAML", help="the Flow's YAML file")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="compose: the file to write; kubernetes: a folder (flow.yaml in it) "
                             "or a .yaml file (default: standard output)")
    parser.add_argument("--image", default=None,
                        help="image of pods without image: (default: jinad-mesh:latest)")
    parser.add_argument("--publish-host", default="", metavar="ADDRESS",
                        help="compose: publish the gateway's ports on this address only")
    parser.add_argument("--port-expose", type=port, help="the gateway's ZeroMQ port")
    parser.add_argument("--port-http", type=port, help="the gateway's HTTP port")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mesh.export.common import DEFAULT_IMAGE
    from mesh.export.render import check_format, export_text, write_export
    from mesh.flow.yamlio import read_flow_yaml

    fmt = check_format(args.format)
    spec, pods = read_flow_yaml(Path(args.flow_yaml))
    update = {k: getattr(args, k) for k in ("port_expose", "port_http") if getattr(args, k)}
    spec = spec.model_copy(update=update)
    text = export_text(spec, pods, fmt, flow_dir=Path(args.flow_yaml).resolve().parent,
                       image=args.image or DEFAULT_IMAGE, publish_host=args.publish_host)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    for path in write_export(text, fmt, Path(args.output)):
        print(f"wrote {path}", flush=True)
    return 0
