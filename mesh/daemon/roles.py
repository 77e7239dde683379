"""The three NATS roles of a mesh, as nats-server permissions.

- **node** (one user per node name): serves its own ``jinad.spawn.<name>``,
  ``jinad.cordon.<name>`` and ``jinad.ports.<name>``, the ``jinad.spawn.any`` queue and ``jinad.kill.>``, answers them
  (``allow_responses``), publishes logs, events and its own audit records, keeps its own key
  of the nodes bucket, reads the nodes and flows buckets and the uploaded files.
- **edge** (admin): sends commands to any node, writes Flow records and uploaded files,
  reads nodes, replays logs; sets up the mesh's buckets and streams.
- **logs**: subscribes ``jinad.logs.>`` and ``jinad.events.>`` and replays them from
  JetStream; nothing else.

Replies: each identity receives replies only under its own inbox prefix (:func:`inbox_prefix`;
clients connect with it), so no role reads another's replies (KV values, spawn replies). The
identity of ``node-B`` is ``_INBOX.node-B``, and so is that of ``node-B-2``, the second user
of the same node made while rotating: a connection keeps its inbox prefix across reconnects,
so the jinad that switches users while it runs (mesh/daemon/logins.py) goes on receiving its
replies there. A node answers a request without being allowed to publish on
``_INBOX.>`` at all: ``allow_responses`` lets it publish once to the reply subject of each
message it received. JetStream's own answers come from the server.

A node may ``STREAM.CREATE`` the three streams it binds to: creating a stream that exists
with the same configuration changes nothing, and one with another configuration is refused
(only the edge may ``UPDATE``).
"""

from __future__ import annotations

from typing import Any, Literal

from mesh.events import subjects
from mesh.events.files import FILES_BUCKET
from mesh.events.kv import FLOWS_BUCKET, NODES_BUCKET
from mesh.events.streams import EVENTS_STREAM, LOGS_STREAM

__all__ = ["ROLES", "Role", "inbox_prefix", "permissions"]

Role = Literal["node", "edge", "logs"]
ROLES: tuple[Role, ...] = ("node", "edge", "logs")

_NODES, _FLOWS, _FILES = f"KV_{NODES_BUCKET}", f"KV_{FLOWS_BUCKET}", f"OBJ_{FILES_BUCKET}"
_API = "$JS.API"


def inbox_prefix(user: str | None, *, role: Role | None = None,
                 node: str | None = None) -> str | None:
    """``_INBOX.<identity>`` for a user name that is one subject token, else None (the default
    ``_INBOX``; an operator's broker that allows ``_INBOX.>`` takes both). The identity is the
    user, except that the users ``<role>-<node>-<n>`` made while rotating share the identity
    ``<role>-<node>`` of the first."""
    if not user:
        return None
    if role in ("node", "edge") and node:
        base = f"{role}-{node}"
        suffix = user.removeprefix(f"{base}-")
        if user == base or (suffix != user and suffix.isdigit()):
            user = base
    try:
        subjects.validate_token(user)
    except ValueError:
        return None
    return f"_INBOX.{user}"


def _read_kv(*streams: str) -> list[str]:
    """Get one value (both APIs nats clients use) and list keys (stream info)."""
    out = []
    for s in streams:
        out += [f"{_API}.STREAM.INFO.{s}", f"{_API}.STREAM.MSG.GET.{s}",
                f"{_API}.DIRECT.GET.{s}", f"{_API}.DIRECT.GET.{s}.>"]
    return out


def _consume(*streams: str) -> list[str]:
    """Replay a stream with an ephemeral consumer (ordered push, or pull), and its acks."""
    out = []
    for s in streams:
        out += [f"{_API}.STREAM.INFO.{s}", f"{_API}.CONSUMER.CREATE.{s}",
                f"{_API}.CONSUMER.CREATE.{s}.>", f"{_API}.CONSUMER.INFO.{s}.>",
                f"{_API}.CONSUMER.DELETE.{s}.>", f"{_API}.CONSUMER.MSG.NEXT.{s}.>",
                f"$JS.FC.{s}.>", f"$JS.ACK.{s}.>"]
    return out


def _node(name: str) -> tuple[list[str], list[str]]:
    publish = [
        subjects.LOGS_ALL, subjects.EVENTS_ALL, subjects.audit(name),
        f"$KV.{NODES_BUCKET}.{name}",  # its own record (a KV key is the name as is)
        f"{_API}.INFO", f"{_API}.STREAM.NAMES",
        *(f"{_API}.STREAM.CREATE.{s}" for s in (_NODES, LOGS_STREAM, EVENTS_STREAM)),
        f"{_API}.STREAM.INFO.{LOGS_STREAM}", f"{_API}.STREAM.INFO.{EVENTS_STREAM}",
        *_read_kv(_NODES, _FLOWS, _FILES), *_consume(_FILES),
    ]
    subscribe = [subjects.spawn(name), subjects.SPAWN_ANY, subjects.ports(name), subjects.KILL_ALL,
                 subjects.cordon(name)]
    return publish, subscribe


def _edge() -> tuple[list[str], list[str]]:
    streams = (_NODES, _FLOWS, _FILES, LOGS_STREAM, EVENTS_STREAM)
    publish = [
        f"{subjects.PREFIX}.spawn.*", subjects.KILL_ALL, f"{subjects.PREFIX}.ports.*",
        f"{subjects.PREFIX}.cordon.*",
        f"$KV.{FLOWS_BUCKET}.>", f"$O.{FILES_BUCKET}.>",
        f"{_API}.INFO", f"{_API}.STREAM.NAMES",
        *(f"{_API}.STREAM.{op}.{s}" for op in ("CREATE", "INFO") for s in streams),
        f"{_API}.STREAM.UPDATE.{LOGS_STREAM}", f"{_API}.STREAM.UPDATE.{EVENTS_STREAM}",
        f"{_API}.STREAM.PURGE.{_FILES}",  # an object's old chunks, when it is replaced or deleted
        f"{_API}.STREAM.PURGE.{_FLOWS}",  # a deleted Flow's record, with no marker left
        *_read_kv(_NODES, _FLOWS, _FILES),
        *_consume(_NODES, _FLOWS, _FILES, LOGS_STREAM, EVENTS_STREAM),  # also `kv keys`, watch
    ]
    return publish, [subjects.LOGS_ALL, subjects.EVENTS_ALL, subjects.AUDIT_ALL]


def _logs() -> tuple[list[str], list[str]]:
    publish = [f"{_API}.INFO", f"{_API}.STREAM.NAMES", *_read_kv(LOGS_STREAM, EVENTS_STREAM),
               *_consume(LOGS_STREAM, EVENTS_STREAM)]
    return publish, [subjects.LOGS_ALL, subjects.EVENTS_ALL]


def permissions(role: Role, *, user: str, node: str | None = None) -> dict[str, Any]:
    """The nats-server ``permissions`` map of ``user`` in ``role`` (``node`` names the node
    a node user serves)."""
    if role == "node":
        if not node:
            raise ValueError("a node user serves one node: name it")
        publish, subscribe = _node(node)
    elif role == "edge":
        publish, subscribe = _edge()
    else:
        publish, subscribe = _logs()
    inbox = inbox_prefix(user, role=role, node=node)
    if inbox is None:
        raise ValueError(f"NATS user name {user!r} must be one subject token")
    perms: dict[str, Any] = {"publish": {"allow": _unique(publish)},
                             "subscribe": {"allow": _unique([*subscribe, f"{inbox}.>"])}}
    if role == "node":
        perms["allow_responses"] = True
    return perms


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
