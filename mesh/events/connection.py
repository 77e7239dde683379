"""What a NATS connection is made of, apart from the bus that uses it: the server list, TLS,
the credentials, and how each is named in an error message (never a password)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats.errors

from mesh.events.errors import BusConnectError

__all__ = ["is_refusal", "login_named", "redact", "require_nkeys", "split_servers", "tls_context"]


def is_refusal(exc: Exception) -> bool:
    """The server rejected the connection's credentials (not a network problem)."""
    text = str(exc).lower()
    return isinstance(exc, nats.errors.AuthorizationError) or "authorization violation" in text \
        or "authentication" in text


def login_named(options: dict[str, Any]) -> str:
    user = options.get("user")
    if user:
        return f"user {(user() if callable(user) else user)!r}"
    for key, what in (("token", "the token"), ("user_credentials", "the creds file")):
        if options.get(key):
            return what
    return "a connection without credentials"


def split_servers(url: str | Sequence[str]) -> list[str]:
    parts = url.split(",") if isinstance(url, str) else list(url)
    servers = [p.strip() for p in parts if p.strip()]
    if not servers:
        raise ValueError(f"no NATS server URL in {url!r}")
    return servers


def redact(url: str) -> str:
    """``url`` without a password or token in its user part."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.username is None and parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.password is not None else "***"  # bare user part = token
    netloc = f"{user}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def require_nkeys() -> None:
    try:
        import nkeys  # noqa: F401
    except ImportError as exc:
        raise BusConnectError("NATS creds files need the 'nkeys' package (pip install nkeys)") from exc


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not (ca or cert):
        return None
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
