"""The NATS users a running jinad logs in as, changed without a restart.

``jinad credentials use`` (on a machine that joined with ``--nats``) and ``jinad credentials
rotate`` (on the broker's machine, for that jinad's own users) write ``nats-login.json``
(0600) in the jinad's state dir::

    {"node": {"user": "node-B-2", "password": "..."},
     "edge": {"user": "edge-B-2", "password": "..."},
     "replaces": {"node": "node-B", "edge": "edge-B"}}

The running jinad looks at the file once a second (:class:`LoginWatcher`). When it changes,
the jinad first proves each new user with a connection of its own, then logs both of its
connections in again as them (:meth:`mesh.events.bus.Bus.relogin`: subscriptions, watchers and
inbox carry over; the Peas, on ZeroMQ, never notice) and records in its lock file
(``nats_login``: the file's id, the users it holds now, the error if it refused them) what
came of it, which the command waits for.
Only then may the old users be removed on the broker.

A jinad that starts later with its old flags (``--nats-user node-B``) takes the users of the
file instead of the ones it replaced: a rotation outlives the command line that predates it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mesh.daemon.roles import Role
from mesh.periodic import Periodic
from mesh.private import write_private

__all__ = ["LOGIN_FILE", "Login", "LoginFile", "LoginWatcher", "at_start", "read_logins",
           "write_logins"]

logger = logging.getLogger(__name__)

LOGIN_FILE = "nats-login.json"


class Login(BaseModel):
    user: str
    password: str

    def __repr__(self) -> str:  # never the password
        return f"Login({self.user!r})"


class LoginFile(BaseModel):
    id: str = ""  # the jinad records which file it took (or refused) under this id
    node: Login
    edge: Login
    replaces: dict[str, str] = {}  # role -> the user this file's user took over from

    def users(self) -> dict[str, str]:
        return {"node": self.node.user, "edge": self.edge.user}

    def login(self, role: Role) -> Login:
        return self.node if role == "node" else self.edge


def read_logins(state_dir: Path) -> LoginFile | None:
    """The state dir's login file; None when there is none or it cannot be read (logged)."""
    path = state_dir / LOGIN_FILE
    try:
        return LoginFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        logger.error("%s cannot be read, so it is not used: %s", path, exc)
        return None


def write_logins(state_dir: Path, logins: LoginFile) -> None:
    write_private(state_dir / LOGIN_FILE, logins.model_dump_json(indent=2) + "\n")


def at_start(state_dir: Path, role: Role, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (Bus.connect's, from the flags) with the file's user for ``role`` when the
    flags name that user or the one it replaced; else the flags as they are."""
    logins = read_logins(state_dir)
    flag_user = options.get("user")
    if logins is None or not flag_user:
        return options
    login = logins.login(role)
    if flag_user not in (login.user, logins.replaces.get(role)):
        logger.warning("%s names NATS user %s for the %s connection and --nats-user... says %s: "
                       "the flags win", state_dir / LOGIN_FILE, login.user, role, flag_user)
        return options
    if flag_user != login.user:
        logger.info("the %s connection logs in as %s (%s), which took over from %s: update the "
                    "flags when convenient", role, login.user, state_dir / LOGIN_FILE, flag_user)
    return {**options, "user": login.user, "password": login.password}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


class LoginWatcher(Periodic):
    """Calls ``switch(logins)`` each time the state dir's login file changes (looked at every
    ``check_s``); a switch that fails is logged and the next change tried again."""

    name = "NATS login watcher"

    def __init__(self, state_dir: Path, switch: Callable[[LoginFile], Awaitable[None]], *,
                 check_s: float = 1.0) -> None:
        super().__init__(check_s)
        self.path = state_dir / LOGIN_FILE
        self.state_dir, self.switch = state_dir, switch
        self._stamp = _stamp(self.path)  # what is there at start was read at start

    async def tick(self) -> None:
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        logins = read_logins(self.state_dir)
        if logins is not None:
            await self.switch(logins)
