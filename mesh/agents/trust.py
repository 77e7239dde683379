"""Which edges a node obeys: the public keys it accepts signed commands from.

With a trusted-keys file (one public nkey a line, ``#`` comments), exactly those keys and the
node's own. Without one, the keys the mesh's nodes registered with their heartbeats: as safe
as the broker's own authentication (only holders of the mesh's credentials can register).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mesh.errors import FlowConfigError
from mesh.events.kv import NodeRegistry
from mesh.events.signing import public_key_bytes

__all__ = ["MeshTrust", "read_trusted_keys"]

logger = logging.getLogger(__name__)


def read_trusted_keys(path: Path) -> frozenset[str]:
    """The public keys in ``path``; FlowConfigError naming the line that is not one."""
    keys = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            public_key_bytes(line)
        except ValueError as exc:
            raise FlowConfigError(f"{path}:{number}: {exc}") from exc
        keys.add(line)
    return frozenset(keys)


class MeshTrust:
    """``await trust(refresh)``: the keys trusted now (see the module doc)."""

    def __init__(self, *, nodes: NodeRegistry, own_key: str, fixed: frozenset[str] | None) -> None:
        self.nodes, self.own_key, self.fixed = nodes, own_key, fixed
        self._keys: set[str] = {own_key}
        self._read = 0  # node-list reads so far
        self._lock = asyncio.Lock()  # concurrent refreshes share one read

    def describe(self) -> str:
        if self.fixed is not None:
            return f"commands are accepted from {len(self.fixed)} trusted keys and this node's own"
        return ("commands are accepted from the keys the mesh's nodes registered (no "
                "--trusted-keys file): as safe as the NATS broker's own authentication")

    async def __call__(self, refresh: bool) -> set[str]:
        if self.fixed is not None:
            return {*self.fixed, self.own_key}
        if refresh or self._read == 0:
            seen = self._read
            async with self._lock:
                if self._read == seen:  # nobody read the list while we waited
                    registered = {n.edge_key for n in await self.nodes.list() if n.edge_key}
                    self._keys = {*registered, self.own_key}
                    self._read += 1
        return self._keys
