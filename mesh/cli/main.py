"""The ``mesh`` command: ``mesh flow``, ``mesh pod``, ``mesh ping``, ``mesh nodes``, ``mesh logs``.

Subcommands import the Flow machinery only when they run, so that ``mesh --help``
and ``mesh ping`` start fast. Every error the project raises on purpose ends here
as one ``error: <message>`` line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from mesh import __version__
from mesh.cli import (
    deploy_cmd,
    events_cmd,
    export_cmd,
    flow_cmd,
    flows_cmd,
    logs_cmd,
    nodes_cmd,
    ping_cmd,
    pod_cmd,
    status_cmd,
)
from mesh.errors import BadRequestError, MeshError

__all__ = ["build_parser", "exit_code", "main"]

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesh", description="Run Flows and Pods of jinad mesh, here or on jinad nodes.")
    parser.add_argument("--version", action="version", version=f"mesh {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND",
                                     required=True)
    for module in (flow_cmd, pod_cmd, ping_cmd, nodes_cmd, logs_cmd, events_cmd, flows_cmd,
                   status_cmd,
                   deploy_cmd):
        module.register(commands)
    export_cmd.register(commands)
    return parser


def exit_code(exc: MeshError) -> int:
    """2 for what the user can fix in the command or its files; 1 for what went wrong."""
    return 2 if isinstance(exc, BadRequestError) else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except MeshError as exc:
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
