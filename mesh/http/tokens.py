"""The edge's token: given, kept from an earlier start, or made now; never an open edge by accident.

On loopback the edge needs no token (only this machine reaches it). Bound beyond it
(``--host 0.0.0.0`` or an address) it needs one: ``--token``; else the one kept in the
state dir (``edge-token``, mode 0600) from an earlier start; else a new one, written there
and shown once. ``--insecure`` is the operator saying, in so many words, that this edge is
on a trusted network and takes calls without one.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mesh.private import write_private

__all__ = ["TOKEN_FILE", "EdgeAccess", "TokenSource", "announce", "edge_access", "is_loopback",
           "parse_bearer", "rotate_token"]

logger = logging.getLogger(__name__)

TOKEN_FILE = "edge-token"


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def parse_bearer(header: str) -> str | None:
    """The token of ``Authorization: Bearer X`` (the scheme in any case), else None."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@dataclass(frozen=True)
class EdgeAccess:
    """The token the edge requires (None: open), and where it came from."""

    token: str | None
    source: str  # "given", "stored", "generated", "loopback" or "insecure"
    path: Path | None = None

    def __repr__(self) -> str:  # never the token itself
        return f"EdgeAccess(source={self.source!r}, path={self.path})"


def edge_access(*, host: str, token: str | None, insecure: bool, state_dir: Path) -> EdgeAccess:
    if token:
        return EdgeAccess(token, "given")
    if is_loopback(host):
        return EdgeAccess(None, "loopback")
    if insecure:
        return EdgeAccess(None, "insecure")
    path = state_dir / TOKEN_FILE
    stored = _read(path)
    if stored:
        return EdgeAccess(stored, "stored", path)
    return EdgeAccess(_create(path), "generated", path)


def _read(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    if path.stat().st_mode & 0o077:
        logger.warning("%s was readable by others; made it 0600", path)
        path.chmod(0o600)
    return text or None


def _create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    write_private(path, token + "\n")
    return token


def announce(access: EdgeAccess, *, host: str, port: int) -> None:
    """Say where the token comes from; a new one is printed this once (to stderr)."""
    if access.source == "generated":
        print(f"jinad: the edge on {host}:{port} needs a token; a new one, kept in {access.path} "
              f"(0600):\n\n    {access.token}\n\nsend it as 'Authorization: Bearer <token>' "
              "(mesh --token, Flow(token=...), JINAD_TOKEN); it is not shown again",
              file=sys.stderr, flush=True)
    elif access.source == "stored":
        logger.info("the edge needs the token kept in %s", access.path)


class TokenSource:
    """The token the edge requires now. One kept in the state dir (``edge-token``) is read
    again when the file changes (looked at once a second at most), so that ``jinad token
    rotate`` changes it without a restart: running Flows are not touched. A file that is
    removed or emptied leaves the last token in force (never an open edge by accident)."""

    CHECK_S = 1.0

    def __init__(self, token: str, path: Path | None = None) -> None:
        self._token, self.path = token, path
        self._stamp = _stamp(path)
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> str:
        if self.path is None or time.monotonic() - self._checked < self.CHECK_S:
            return self._token
        with self._lock:
            self._checked = time.monotonic()
            stamp = _stamp(self.path)
            if stamp != self._stamp:
                self._stamp = stamp
                fresh = _read(self.path) if stamp is not None else None
                if fresh and fresh != self._token:
                    self._token = fresh
                    logger.info("the edge's token changed (%s): the old one is refused now",
                                self.path)
        return self._token


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path is not None else None
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size) if st is not None else None


def rotate_token(state_dir: Path) -> str:
    """A new token in ``state_dir/edge-token`` (0600, replaced atomically); the running jinad
    of that state dir takes it within a second."""
    token = secrets.token_urlsafe(32)
    write_private(state_dir / TOKEN_FILE, token + "\n")
    return token
