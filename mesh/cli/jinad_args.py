"""What the subcommands that talk to a jinad share: its address, the token, error wording.

``mesh.client`` loads ZeroMQ, so the EdgeClient is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mesh.cli.args import port
from mesh.errors import UnauthorizedError

if TYPE_CHECKING:
    from mesh.client.edge import EdgeClient

__all__ = ["DEFAULT_JINAD_PORT", "add_edge_args", "add_token_arg", "edge_client", "edge_errors",
           "token_of"]

DEFAULT_JINAD_PORT = 8000
TOKEN_ENV = "JINAD_TOKEN"



def add_token_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", metavar="TOKEN",
                        help=f"the jinad's access token (default: ${TOKEN_ENV})")


def add_edge_args(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port-expose`` and ``--token`` of the jinad a command talks to."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address or name of a jinad node of the mesh (default: 127.0.0.1)")
    parser.add_argument("--port", "--port-expose", dest="port_expose", metavar="PORT", type=port,
                        default=DEFAULT_JINAD_PORT,
                        help=f"that jinad's HTTP port (default: {DEFAULT_JINAD_PORT})")
    add_token_arg(parser)


def token_of(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get(TOKEN_ENV) or None


def edge_client(args: argparse.Namespace, *, timeout_s: float = 120.0) -> EdgeClient:
    from mesh.client.edge import EdgeClient

    return EdgeClient(args.host, args.port_expose or DEFAULT_JINAD_PORT, token=token_of(args),
                      timeout_s=timeout_s)


@contextmanager
def edge_errors(edge: EdgeClient) -> Iterator[None]:
    """A 401 names the jinad and says how to pass the token; other errors pass as they are."""
    try:
        yield
    except UnauthorizedError as exc:
        raise UnauthorizedError(
            f"jinad at {edge.base} answered 401 Unauthorized: {exc.message}",
            detail=exc.detail) from exc
