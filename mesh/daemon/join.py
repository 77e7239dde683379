"""``jinad credentials``: the users of this machine's embedded broker.

    jinad credentials add-node NAME [--rotate]   a node user and an edge user for machine NAME;
                                                 prints the command that machine runs to join
    jinad credentials remove USER...             drop users (their connections are closed)
    jinad credentials rotate USER...             new passwords (prints them); this jinad's
                                                 own users: a new pair it switches to live
    jinad credentials use --nats-user ...        on a machine that joined: its running jinad
                                                 logs in as the new users (no restart)
    jinad credentials list                       users, roles, nodes (no passwords)
    jinad credentials url USER                   this broker's URL with USER's password in it
                                                 (nats sub -s "$(jinad credentials url logs)" ...)

Each change rewrites the broker's users file and reloads the running broker with SIGHUP
(no restart: Flows keep running), then proves it by logging in as the new user. A running
jinad changes the users it logs in as through mesh/daemon/logins.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
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
from mesh.daemon.lock import holder, is_held
from mesh.daemon.logins import Login, LoginFile, write_logins
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
_SWITCH_S = 30.0  # a reconnect takes ~2 s (nats-py waits before retrying the same server)


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
    rot = sub.add_parser("rotate", help="new passwords for users; this jinad's own users are "
                         "replaced by a new pair that the running jinad switches to")
    rot.add_argument("users", nargs="+")
    use = sub.add_parser("use", help="on a machine that joined: the running jinad of the state "
                         "dir logs in as these users from now on, without a restart")
    for flag, env in (("--nats-user", "JINAD_NATS_USER"), ("--nats-password", "JINAD_NATS_PASSWORD"),
                      ("--nats-edge-user", "JINAD_NATS_EDGE_USER"),
                      ("--nats-edge-password", "JINAD_NATS_EDGE_PASSWORD")):
        use.add_argument(flag, default=os.environ.get(env), help=f"(env {env})")
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
        elif args.command == "use":
            print(use(args.state_dir, node=_pair(args.nats_user, args.nats_password, "--nats"),
                      edge=_pair(args.nats_edge_user, args.nats_edge_password, "--nats-edge")))
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
    if rotate:
        old = sorted(u.user for u in Credentials(state_dir).users()
                     if u.node == name and u.user not in (node.user, edge.user))
        text += (f"\nor, with no restart, on the running {name}:\n  {use_command(node, edge)}"
                 f"\nthen here: jinad credentials remove {' '.join(old)}")
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


def _pair(user: str | None, password: str | None, flag: str) -> Login:
    if not user or not password:
        raise BadRequestError(f"name the new user and its password: {flag}-user USER "
                              f"{flag}-password PASSWORD (or their JINAD_ variables)")
    return Login(user=user, password=password)


def _in_use(state_dir: Path) -> set[str]:
    """The users the jinad of ``state_dir`` logs in as (and the log reader)."""
    info = holder(state_dir)
    users = set(((info.get("nats_login") or {}).get("users") or {}).values()) - {None}
    return users | Credentials(state_dir).mine(str(info.get("name", "")))


def use(state_dir: Path, *, node: Login, edge: Login) -> str:
    """The running jinad of ``state_dir`` logs in as ``node`` and ``edge`` (it proves them
    first); returns once it has, or raises what kept it from it."""
    if not is_held(state_dir):
        raise BadRequestError(f"no jinad runs on state dir {state_dir}: start it with the new "
                              "users (--nats-user ... --nats-edge-user ...) instead")
    info = holder(state_dir)
    if info.get("nats_local"):
        raise BadRequestError(f"the jinad of {state_dir} runs the mesh's broker: rotate its own "
                              "users with `jinad credentials rotate node-NAME edge-NAME` there")
    before = (info.get("nats_login") or {}).get("users") or {}
    if not before.get("node") or not before.get("edge"):
        raise BadRequestError(f"the jinad of {state_dir} logs in without NATS users (a token or "
                              "a creds file): restart it with the new credentials instead")
    users = _switch(state_dir, LoginFile(node=node, edge=edge, replaces=before))
    return (f"the jinad of {state_dir} logs in as {users['node']} and {users['edge']} now, its "
            f"Flows untouched; on the broker's machine, remove the old users:\n"
            f"  jinad credentials remove {before['node']} {before['edge']}")


def _switch(state_dir: Path, logins: LoginFile) -> dict[str, str]:
    """Hand ``logins`` to the running jinad of ``state_dir`` and wait until it has taken
    them (the users it now holds) or refused them (UnavailableError with its reason)."""
    logins = logins.model_copy(update={"id": secrets.token_hex(8)})
    write_logins(state_dir, logins)
    deadline = time.monotonic() + _SWITCH_S
    while time.monotonic() < deadline:
        done = holder(state_dir).get("nats_login") or {}
        if done.get("id") == logins.id:
            if done.get("error"):
                raise UnavailableError(f"the jinad of {state_dir} kept its users: "
                                       f"{done['error']}", detail={"users": done.get("users")})
            return dict(done["users"])
        time.sleep(0.1)  # the jinad looks at the file once a second
    raise UnavailableError(f"the jinad of {state_dir} did not take the new users within "
                           f"{_SWITCH_S:g} s (is it the jinad that runs there?)")


def use_command(node: User, edge: User) -> str:
    return shlex.join(["jinad", "credentials", "use", "--nats-user", node.user, "--nats-password",
                       node.password, "--nats-edge-user", edge.user, "--nats-edge-password",
                       edge.password])


def remove(state_dir: Path, users: list[str]) -> str:
    creds = Credentials(state_dir)
    kept = sorted(set(users) & _in_use(state_dir))
    if kept:
        raise BadRequestError(f"{', '.join(kept)}: used by the jinad of {state_dir} itself")
    gone = creds.remove(users)
    running = _reload(state_dir)
    where = "the broker reloaded its users" if running else "the broker is not running"
    return f"removed {', '.join(u.user for u in gone)} ({where})"


def rotate(state_dir: Path, users: list[str]) -> str:
    """New passwords. The running jinad's own node and edge users (it holds their passwords)
    are replaced instead, as a pair, by two new users it switches to while running."""
    creds = Credentials(state_dir)
    own = set(users) & _in_use(state_dir) - {"logs"}
    if own and is_held(state_dir):
        if not brokers_on(state_dir / "nats"):
            raise UnavailableError(f"the jinad of {state_dir} runs but its broker does not (it "
                                   "is being restarted): try again in a moment")
        if own != set(users) - {"logs"}:
            raise BadRequestError(f"rotate the running jinad's own users ({', '.join(sorted(own))}) "
                                  "in a command of their own")
        text = _rotate_own(state_dir)
        others = [u for u in users if u == "logs"]
        return text + ("\n" + _new_passwords(creds, others) if others else "")
    return _new_passwords(creds, users)


def _new_passwords(creds: Credentials, users: list[str]) -> str:
    changed = creds.rotate(users)
    _reload(creds.state_dir)
    return "\n".join(f"{u.user}\t{u.password}" for u in changed)


def _rotate_own(state_dir: Path) -> str:
    """A new node and edge user for the running jinad (the broker takes them), which logs in
    as them; then its old users are removed. Its Flows and Peas keep running throughout."""
    info = holder(state_dir)
    name, local = str(info.get("name", "")), str(info.get("nats_local", ""))
    before = (info.get("nats_login") or {}).get("users") or {}
    creds = Credentials(state_dir)
    node, edge = creds.add_node(name, rotate=True)
    _reload(state_dir)
    try:
        asyncio.run(_prove(local, node))
        asyncio.run(_prove(local, edge))
        users = _switch(state_dir, LoginFile(node=Login(user=node.user, password=node.password),
                                             edge=Login(user=edge.user, password=edge.password),
                                             replaces=before))
    except BaseException:  # the new users go again, but for one the jinad took after all
        held = ((holder(state_dir).get("nats_login") or {}).get("users") or {}).values()
        creds.remove([u.user for u in (node, edge) if u.user not in held])
        _reload(state_dir)
        raise
    old = [u for u in (before.get("node"), before.get("edge")) if u and u not in users.values()]
    creds.remove(old)
    _reload(state_dir)
    return (f"the jinad of {state_dir} logs in as {users['node']} and {users['edge']} now, its "
            f"Flows untouched; {', '.join(old)} removed")


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
