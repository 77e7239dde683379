"""The embedded broker's users: generated on first start, kept 0600 in the state dir.

``nats-credentials.json`` is the source: every user, its role (:mod:`mesh.daemon.roles`),
the node a node user serves, its password. ``nats-auth.conf`` is written from it for
nats-server (``authorization { users = [...] }``), and rewritten, then reloaded with
SIGHUP, when a user is added or removed (:mod:`mesh.daemon.join`). A jinad's own users are
``node-<name>`` and ``edge-<name>``; ``logs`` reads logs; a node that joins gets
``node-<its name>`` and ``edge-<its name>`` (``-2``, ``-3``... while rotating).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mesh.daemon.roles import ROLES, Role, inbox_prefix, permissions
from mesh.errors import BadRequestError, ConflictError, NotFoundError
from mesh.private import write_private

__all__ = ["AUTH_CONF", "CREDENTIALS_FILE", "Credentials", "User"]

CREDENTIALS_FILE = "nats-credentials.json"
AUTH_CONF = "nats-auth.conf"
_LOCK = ".nats-credentials.lock"


@dataclass(frozen=True)
class User:
    user: str
    role: Role
    password: str
    node: str | None = None  # the node a node user serves (and whose edge an edge user is)

    @property
    def inbox_prefix(self) -> str:
        prefix = inbox_prefix(self.user, role=self.role, node=self.node)
        assert prefix is not None, self.user  # names are made of tokens (see Credentials)
        return prefix

    def login(self) -> dict[str, str]:
        """Bus.connect's (and nats.connect's) keyword arguments for this user."""
        return {"user": self.user, "password": self.password, "inbox_prefix": self.inbox_prefix}

    def __repr__(self) -> str:  # never the password
        return f"User({self.user!r}, role={self.role!r}, node={self.node!r})"


class Credentials:
    """The users file of one state dir. Every change holds a file lock and rewrites the
    server's config; it does not reload the server (the caller does)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / CREDENTIALS_FILE
        self.conf_path = state_dir / AUTH_CONF

    def __repr__(self) -> str:
        return f"Credentials({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, User]]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            users = self._read()
            before = dict(users)
            yield users
            if users != before or not self.conf_path.exists():
                self._write(users)
        finally:
            os.close(fd)

    def _read(self) -> dict[str, User]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise BadRequestError(f"cannot read {self.path}: {exc}") from exc
        return {u["user"]: User(**u) for u in data.get("users", [])}

    def _write(self, users: dict[str, User]) -> None:
        body = {"version": 1, "users": [asdict(u) for u in users.values()]}
        write_private(self.path, json.dumps(body, indent=2) + "\n")
        write_private(self.conf_path, render_conf(list(users.values())))

    def users(self) -> list[User]:
        return list(self._read().values())

    def own(self, node: str) -> dict[Role, User]:
        """This jinad's node and edge users and the log reader, made on first use."""
        with self._locked() as users:
            found = {"node": _first(users, "node", node), "edge": _first(users, "edge", node),
                     "logs": _first(users, "logs", None)}
            for role in ROLES:
                if found[role] is None:
                    found[role] = _add(users, role, node if role != "logs" else None)
        return {role: u for role, u in found.items() if u is not None}  # type: ignore[misc]

    def mine(self, node: str) -> set[str]:
        """The users the jinad named ``node`` connects with, and the log reader (read only)."""
        users = self._read()
        return {u.user for u in (_first(users, "node", node), _first(users, "edge", node),
                                 _first(users, "logs", None)) if u is not None}

    def add_node(self, node: str, *, rotate: bool = False) -> tuple[User, User]:
        """A node user and an edge user for the machine that joins as ``node``. A node that
        has users already gets a second pair only with ``rotate``."""
        with self._locked() as users:
            existing = [u.user for u in users.values() if u.node == node and u.role == "node"]
            if existing and not rotate:
                raise ConflictError(f"node {node} has NATS users already ({', '.join(existing)}); "
                                    "pass --rotate for a second pair (then remove the old one)")
            return _add(users, "node", node), _add(users, "edge", node)

    def rotate(self, names: list[str]) -> list[User]:
        """A new password for each user (same name, role and permissions)."""
        with self._locked() as users:
            _known(users, names)
            for n in names:
                users[n] = dataclasses.replace(users[n], password=_password())
            return [users[n] for n in names]

    def remove(self, names: list[str]) -> list[User]:
        with self._locked() as users:
            _known(users, names)
            return [users.pop(n) for n in names]


def _known(users: dict[str, User], names: list[str]) -> None:
    missing = [n for n in names if n not in users]
    if missing:
        raise NotFoundError(f"no NATS user {', '.join(missing)} (users: {', '.join(users)})")


def _password() -> str:
    """160 random bits in hex: never taken for a flag (a leading '-'), safe in URLs and shells."""
    return secrets.token_hex(20)


def _first(users: dict[str, User], role: Role, node: str | None) -> User | None:
    return next((u for u in users.values() if u.role == role and u.node == node), None)


def _add(users: dict[str, User], role: Role, node: str | None) -> User:
    base = f"{role}-{node}" if node else role
    name, n = base, 1
    while name in users:
        n += 1
        name = f"{base}-{n}"
    user = User(user=name, role=role, password=_password(), node=node)
    permissions(role, user=user.user, node=node)  # a name that cannot be a user fails here
    users[name] = user
    return user


def render_conf(users: list[User]) -> str:
    """nats-server's ``authorization`` block (its config format reads JSON values)."""
    entries: list[dict[str, Any]] = [
        {"user": u.user, "password": u.password,
         "permissions": permissions(u.role, user=u.user, node=u.node)} for u in users]
    return ("# written by jinad from nats-credentials.json; edit that file's users with\n"
            "# `jinad credentials ...`, not this one\n"
            f"authorization {{\n  users = {json.dumps(entries, indent=2)}\n}}\n")
