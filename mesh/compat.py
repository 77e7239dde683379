"""The import paths of the original's user scripts, in one module::

    from mesh.parsers import set_client_cli_parser
    from mesh.clients import Client

    args = set_client_cli_parser().parse_args(['--host', host, '--port-expose', str(port)])
    client = Client(args)

``mesh.clients`` and ``mesh.parsers`` are this module under the old names (``mesh`` maps
them when it is imported). ``Client`` is loaded on first use, so that importing ``mesh``
stays cheap for a Pea process.
"""

from __future__ import annotations

import argparse
import importlib
from typing import TYPE_CHECKING, Any

from mesh.cli.args import port, positive_int

__all__ = ["ALIASES", "AsyncClient", "Client", "set_client_cli_parser"]

ALIASES = ("mesh.clients", "mesh.parsers")
_WILDCARD = "0.0.0.0"

if TYPE_CHECKING:
    from mesh.client.client import AsyncClient, Client


def _dial_host(text: str) -> str:
    """A host to connect to: the wildcard 0.0.0.0 (or nothing) means this machine."""
    host = text.strip()
    return "127.0.0.1" if host in ("", _WILDCARD) else host


def set_client_cli_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The arguments of a Client: where the Flow's gateway is and how to send to it."""
    parser = parser or argparse.ArgumentParser(prog="client", description="Send requests to a Flow.")
    group = parser.add_argument_group("client")
    group.add_argument("--host", type=_dial_host, default=_WILDCARD,
                       help="the gateway's host; 0.0.0.0 (the default) dials this machine")
    group.add_argument("--port-expose", type=port, default=None,
                       help="the gateway's ZeroMQ port (the Flow prints it when ready)")
    group.add_argument("--request-size", type=positive_int, default=100,
                       help="Documents per request when a list is sent (default: 100)")
    group.add_argument("--show-progress", action="store_true", default=False,
                       help="print a progress line while sending")
    return parser


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        return getattr(importlib.import_module("mesh.client.client"), name)
    raise AttributeError(f"module 'mesh.compat' has no attribute {name!r}")
