"""``jinad credentials``: the users of this machine's embedded broker.

    jinad credentials add-node NAME [--rotate]   a node user and an edge user for machine NAME;
                                                 prints the command that machine runs to join
    jinad credentials remove USER...             drop users (their connections are closed)
    jinad credentials rotate USER...             new passwords (prints them)
    jinad credentials list                       users, roles, nodes (no passwords)
    jinad credentials url USER                   this broker's URL with USER's password in it
                                                 (nats sub -s "$(jinad credentials url logs)" ...)

Each change rewrites the broker's users file and reloads the running broker with SIGHUP
(no restart: Flows keep running), then proves it by logging in as the new user.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import nats
import nats.errors

from mesh.agents.reconcile import brokers_on
from mesh.daemon.credentials import Credentials, User
from mesh.daemon.embedded import is_loopback
from mesh.daemon.lock import holder
from mesh.daemon.settings import Settings
from mesh.errors import (
    BadRequestError,
    InvalidNameError,
    MeshError,
    NotFoundError,
    UnavailableError,
)
from mesh.events import subjects
from mesh.events.kv import validate_key

__all__ = ["join_command", "main"]

_PROVE_S = 5.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"jinad: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    default = os.environ.get("JINAD_STATE_DIR") or Settings.model_fields["state_dir"].default
    p = _Parser(prog="jinad credentials", description="users of this machine's embedded "
                "nats-server (the one `jinad` without --nats starts)")
    p.add_argument("--state-dir", type=Path, default=Path(default),
                   help="the state dir of the jinad that runs the broker (env JINAD_STATE_DIR)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add = sub.add_parser("add-node", help="a node user and an edge user for the machine that "
                         "joins as NAME; prints the command it runs")
    add.add_argument("name")
    add.add_argument("--rotate", action="store_true",
                     help="NAME has users already: add a second pair (then remove the old one)")
    rm = sub.add_parser("remove", help="remove users; the broker closes their connections")
    rm.add_argument("users", nargs="+")
    rot = sub.add_parser("rotate", help="new passwords for users (this jinad's own: while it "
                         "is stopped)")
    rot.add_argument("users", nargs="+")
    sub.add_parser("list", help="the users, their roles and nodes")
    url = sub.add_parser("url", help="this machine's URL of the broker, logged in as USER")
    url.add_argument("user")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "add-node":
            print(add_node(args.state_dir, args.name, rotate=args.rotate))
        elif args.command == "remove":
            print(remove(args.state_dir, args.users))
        elif args.command == "rotate":
            print(rotate(args.state_dir, args.users))
        elif args.command == "url":
            print(login_url(args.state_dir, args.user))
        else:
            for u in Credentials(args.state_dir).users():
                print(f"{u.user}\t{u.role}\t{u.node or ''}")
    except MeshError as exc:
        print(f"jinad: error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _broker(state_dir: Path) -> dict[str, str]:
    """What the jinad of ``state_dir`` recorded about its embedded broker."""
    info = holder(state_dir)
    if not info.get("nats_url") or not Credentials(state_dir).path.exists():
        raise BadRequestError(f"no embedded nats-server has run on state dir {state_dir}: start "
                              "jinad there (without --nats) first, or pass --state-dir")
    return {k: str(v) for k, v in info.items()}


def add_node(state_dir: Path, name: str, *, rotate: bool = False) -> str:
    """Add the users, reload the broker, prove the node user logs in; the text to print."""
    _check_name(name)
    broker = _broker(state_dir)
    node, edge = Credentials(state_dir).add_node(name, rotate=rotate)
    running = _reload(state_dir)
    if running:
        asyncio.run(_prove(broker["nats_local"], node))
    text = f"node {name} joins the mesh with:\n  {join_command(broker['nats_url'], name, node, edge)}"
    if not running:
        text += "\n(the broker is not running: the users take effect when jinad starts)"
    if is_loopback(broker["nats_url"].split("//", 1)[1].rsplit(":", 1)[0]):
        text += ("\n(the broker listens on loopback only: only this machine can join; restart "
                 "jinad with --nats-listen 0.0.0.0 for others)")
    return text


def login_url(state_dir: Path, user: str) -> str:
    """``nats://USER:PASSWORD@HOST:PORT`` of this machine's broker (for the nats CLI)."""
    local = _broker(state_dir)["nats_local"]
    found = next((u for u in Credentials(state_dir).users() if u.user == user), None)
    if found is None:
        raise NotFoundError(f"no NATS user {user} (jinad credentials list)")
    scheme, _, hostport = local.partition("://")
    return f"{scheme}://{quote(found.user, safe='')}:{quote(found.password, safe='')}@{hostport}"


def _check_name(name: str) -> None:
    """The rules of ``--name``: one subject token, a KV key, not ``any``."""
    subjects.spawn(name)
    try:
        validate_key(name)
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from exc


def join_command(url: str, name: str, node: User, edge: User) -> str:
    return shlex.join(["jinad", "--nats", url, "--name", name, "--nats-user", node.user,
                       "--nats-password", node.password, "--nats-edge-user", edge.user,
                       "--nats-edge-password", edge.password])


def remove(state_dir: Path, users: list[str]) -> str:
    creds = Credentials(state_dir)
    kept = sorted(set(users) & creds.mine(str(holder(state_dir).get("name", ""))))
    if kept:
        raise BadRequestError(f"{', '.join(kept)}: used by the jinad of {state_dir} itself")
    gone = creds.remove(users)
    running = _reload(state_dir)
    where = "the broker reloaded its users" if running else "the broker is not running"
    return f"removed {', '.join(u.user for u in gone)} ({where})"


def rotate(state_dir: Path, users: list[str]) -> str:
    """New passwords; this jinad's own users only while it is stopped (it holds the old)."""
    creds = Credentials(state_dir)
    running = bool(brokers_on(state_dir / "nats"))
    kept = sorted(set(users) & creds.mine(str(holder(state_dir).get("name", ""))) - {"logs"})
    if kept and running:
        raise BadRequestError(f"{', '.join(kept)}: used by the running jinad of {state_dir}; "
                              "stop it first (it reads the new passwords when it starts)")
    changed = creds.rotate(users)
    _reload(state_dir)
    return "\n".join(f"{u.user}\t{u.password}" for u in changed)


def _reload(state_dir: Path) -> bool:
    """SIGHUP the running broker of ``state_dir``; False when none runs."""
    pids = brokers_on(state_dir / "nats")
    for pid in pids:
        os.kill(pid, signal.SIGHUP)
    return bool(pids)


async def _quiet(exc: Exception) -> None:
    """nats-py's errors while proving a login: the outcome is what counts."""


async def _prove(url: str, user: User) -> None:
    """Log in as ``user`` until the reloaded broker takes it (within ``_PROVE_S``)."""
    deadline = time.monotonic() + _PROVE_S
    while True:
        try:
            nc = await nats.connect(url, **user.login(), connect_timeout=1, allow_reconnect=False,
                                    max_reconnect_attempts=0, error_cb=_quiet)
        except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
            if time.monotonic() > deadline:
                raise UnavailableError(f"the broker at {url} did not take user {user.user} within "
                                       f"{_PROVE_S:g} s: {exc}") from exc
            await asyncio.sleep(0.1)  # the server reloads on its own time; nothing to wait on
            continue
        await nc.close()
        return
