"""How many copies JetStream keeps of the mesh's buckets and streams.

On one nats-server there is one copy. In a cluster, a bucket or stream kept on a single
server becomes unavailable while that server is down, and with it the whole mesh (node
registry, flow records, uploaded files, logs). So, unless told otherwise, jinad creates
them with 3 replicas when the server it is connected to is part of a cluster, and falls
back to 1, with a warning, when the cluster has too few JetStream servers for that.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.js.errors
from nats.js import JetStreamContext

__all__ = ["CLUSTER_REPLICAS", "create_replicated", "default_replicas"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLUSTER_REPLICAS = 3
_INSUFFICIENT_RESOURCES = 10023  # fewer (available) JetStream servers than replicas
_NOT_CLUSTERED = 10074  # replicas > 1 not supported in non-clustered mode


def default_replicas(js: JetStreamContext) -> int:
    """3 when the server this connection talks to is in a cluster, else 1."""
    nc = getattr(js, "_nc", None)
    info = getattr(nc, "_server_info", None) or {}  # the server's INFO; nats-py has no public getter
    return CLUSTER_REPLICAS if info.get("cluster") else 1


async def create_replicated(js: JetStreamContext, create: Callable[[int], Awaitable[T]], *,
                            what: str, replicas: int | None) -> T:
    """``await create(n)`` with ``replicas`` copies, or the default for this connection.

    With the default, a cluster that cannot hold 3 copies gets 1 (and a warning); a number
    given explicitly is used as is, and its error is raised.
    """
    wanted = replicas if replicas is not None else default_replicas(js)
    try:
        return await create(wanted)
    except nats.js.errors.APIError as exc:
        if replicas is not None or wanted == 1 or exc.err_code not in (_INSUFFICIENT_RESOURCES,
                                                                       _NOT_CLUSTERED):
            raise
        logger.warning("%s: the NATS cluster cannot keep %d replicas (%s); keeping 1, so it is "
                       "unavailable while its server is down", what, wanted, exc.description)
    return await create(1)
