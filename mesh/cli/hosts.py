"""Is a host this machine? Decides whether a Pod runs here or needs a remote jinad."""

from __future__ import annotations

import socket

__all__ = ["is_local_host"]

_LOCAL_NAMES = {"", "local", "localhost", "0.0.0.0", "::", "::1"}  # "local" as in Flow YAML


def is_local_host(host: str) -> bool:
    """True when ``host`` names this machine: a loopback or wildcard, or an address of its own.

    An address is this machine's when a socket can bind to it; a name is resolved first
    (a name that does not resolve is not local). Nothing is sent on the network.
    """
    if host.lower() in _LOCAL_NAMES or host.startswith("127."):
        return True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(_can_bind(family, str(address[0])) for family, _, _, _, address in infos)


def _can_bind(family: int, ip: str) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((ip, 0))
    except OSError:
        return False
    return True
