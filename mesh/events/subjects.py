"""Every ``jinad.*`` NATS subject, each built by one function.

Names that go into a subject (node, flow id, pod, pea) become one subject token each.
A token may not be empty and may not contain ``.`` (the separator), ``*`` or ``>``
(wildcards) or whitespace; :func:`validate_token` rejects such names with an InvalidNameError (a 400, and a ValueError).

Pod and pea names may contain ``/`` (e.g. ``enc/head``, the head pea of pod ``enc``).
:func:`token` maps ``/`` to ``~`` so that subject tokens stay free of path separators
(they also appear in URLs, file names and ``nats sub`` command lines); :func:`untoken`
reverses it. To keep the mapping reversible, names may not contain ``~`` themselves.

Tree::

    jinad.spawn.<node>              request/reply, one node
    jinad.spawn.any                 request/reply, queue group SPAWN_QUEUE: any node takes it
    jinad.kill.<flow>[.<pod>]       kill every pea of a flow, or of one pod (KILL_ALL: jinad.kill.>)
    jinad.logs.<flow>.<pod>.<pea>   one LogRecord per log line (LOGS_ALL: jinad.logs.>)
    jinad.events.<flow>             LifecycleEvents (EVENTS_ALL: jinad.events.>)
    jinad.ports.<node>              request/reply: free ports on that node
    jinad.cordon.<node>             request/reply: the node takes no new pods, or takes them again
    jinad.audit.<node>              AuditEvents: each command a node took or refused, and who sent it
"""

from __future__ import annotations

from mesh.errors import InvalidNameError

__all__ = [
    "AUDIT_ALL",
    "EVENTS_ALL",
    "KILL_ALL",
    "LOGS_ALL",
    "PREFIX",
    "SPAWN_ANY",
    "SPAWN_QUEUE",
    "audit",
    "cordon",
    "events",
    "kill",
    "logs",
    "logs_for",
    "ports",
    "spawn",
    "token",
    "untoken",
    "validate_token",
]

PREFIX = "jinad"
SPAWN_ANY = f"{PREFIX}.spawn.any"
SPAWN_QUEUE = "jinad-spawn"
KILL_ALL = f"{PREFIX}.kill.>"
LOGS_ALL = f"{PREFIX}.logs.>"
EVENTS_ALL = f"{PREFIX}.events.>"
AUDIT_ALL = f"{PREFIX}.audit.>"

_FORBIDDEN = frozenset(".*>")
_SLASH, _SLASH_TOKEN = "/", "~"
_RESERVED_NODES = frozenset({"any"})


def validate_token(name: str) -> str:
    """Return ``name`` if it can be one subject token, else raise InvalidNameError naming it."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"a subject token must be a non-empty string, got {name!r}",
                               detail={"name": repr(name)})
    bad = sorted({c for c in name if c in _FORBIDDEN or c.isspace() or not c.isprintable()})
    if bad:
        raise InvalidNameError(f"name {name!r} cannot be a NATS subject token: it contains {bad!r}",
                               detail={"name": name})
    return name


def token(name: str) -> str:
    """Subject token for a name: validated, with ``/`` mapped to ``~`` (see module doc)."""
    validate_token(name)
    if _SLASH_TOKEN in name:
        raise InvalidNameError(f"name {name!r} cannot be a NATS subject token: it contains '~'",
                               detail={"name": name})
    return name.replace(_SLASH, _SLASH_TOKEN)


def untoken(tok: str) -> str:
    """The name a :func:`token` came from."""
    return tok.replace(_SLASH_TOKEN, _SLASH)


def spawn(node: str) -> str:
    """Spawn requests for one node. ``any`` is reserved for :data:`SPAWN_ANY`."""
    if node in _RESERVED_NODES:
        raise InvalidNameError(f"node name {node!r} is reserved (it would clash with {SPAWN_ANY})",
                               detail={"name": node})
    return f"{PREFIX}.spawn.{token(node)}"


def kill(flow_id: str, pod: str | None = None) -> str:
    """Kill every pea of a flow, or of one pod of it."""
    if pod is None:
        return f"{PREFIX}.kill.{token(flow_id)}"
    return f"{PREFIX}.kill.{token(flow_id)}.{token(pod)}"


def logs(flow: str, pod: str, pea: str) -> str:
    """Log lines of one pea."""
    return f"{PREFIX}.logs.{token(flow)}.{token(pod)}.{token(pea)}"


def logs_for(flow: str, pod: str | None = None) -> str:
    """Wildcard over the logs of a flow, or of one pod of it."""
    if pod is None:
        return f"{PREFIX}.logs.{token(flow)}.>"
    return f"{PREFIX}.logs.{token(flow)}.{token(pod)}.*"


def events(flow: str) -> str:
    """Lifecycle events of one flow."""
    return f"{PREFIX}.events.{token(flow)}"


def ports(node: str) -> str:
    """Free-port requests for one node."""
    return f"{PREFIX}.ports.{token(node)}"


def cordon(node: str) -> str:
    """Cordon and uncordon commands for one node."""
    return f"{PREFIX}.cordon.{token(node)}"


def audit(node: str) -> str:
    """Audit records of one node: the commands it took or refused."""
    return f"{PREFIX}.audit.{token(node)}"
