"""One name per mesh: each state dir has an instance key, and a node whose name is live in the
mesh under another key does not join.

The key is random, made once (``<state dir>/instance``, 0600) and stamped on every
heartbeat (``NodeInfo.instance``). The same state dir restarting within the nodes bucket's
TTL finds its own key and rejoins; another state dir under the same name is refused while
the record lives (it expires ``--node-ttl-s`` after the other node's last heartbeat).
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import nats.js.errors
from nats.js import JetStreamContext

from mesh.errors import ConflictError
from mesh.events import codec
from mesh.events.errors import EventDecodeError
from mesh.events.kv import NODES_BUCKET
from mesh.events.models import NodeInfo
from mesh.private import write_private

__all__ = ["INSTANCE_FILE", "NameTakenError", "check_name", "instance_key"]

logger = logging.getLogger(__name__)

INSTANCE_FILE = "instance"


class NameTakenError(ConflictError):
    """Another jinad is live in the mesh under this node name."""


def instance_key(state_dir: Path) -> str:
    """This state dir's key, made on first use."""
    path = state_dir / INSTANCE_FILE
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        state_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(16)
        write_private(path, key + "\n")
    return key


async def check_name(js: JetStreamContext, name: str, instance: str) -> NodeInfo | None:
    """The live record of ``name`` when it is this instance's (a restart within the TTL);
    None when the name is free; NameTakenError when another instance holds it."""
    try:
        kv = await js.key_value(NODES_BUCKET)
        entry = await kv.get(name)
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.NotFoundError,
            nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
        return None
    try:
        info = codec.decode(entry.value or b"", NodeInfo)
    except EventDecodeError:
        logger.warning("the mesh's record of node %s does not decode; taking the name", name)
        return None
    if info.instance == instance:
        return info
    if not info.instance:  # a jinad of a version before instance keys
        logger.warning("node %s is live in the mesh without an instance key (an older jinad?); "
                       "joining under the same name", name)
        return None
    age = max(time.time() - info.heartbeat, 0.0)
    raise NameTakenError(
        f"node name {name} is taken: another jinad (at {info.address}, edge port {info.port}, "
        f"last heartbeat {age:.0f} s ago) is live in the mesh under it; pass another --name, "
        "or stop that jinad first", detail={"name": name, "address": info.address})
