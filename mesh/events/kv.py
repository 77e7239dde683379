"""Typed JetStream KV buckets: the node registry (with TTL) and the flow store.

A node's record expires ``ttl_s`` after its last put, so a dead node drops out of
:meth:`NodeRegistry.list` without anyone deleting it. Keys are node names and flow ids;
they must match NATS KV's key alphabet (letters, digits, ``-_=/.``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Generic, TypeVar

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import BaseModel

from mesh.events import codec
from mesh.events.errors import EventDecodeError, KeyNotFound
from mesh.events.models import NodeInfo

__all__ = ["NODES_BUCKET", "FLOWS_BUCKET", "Bucket", "NodeRegistry", "FlowStore", "validate_key"]

logger = logging.getLogger(__name__)

NODES_BUCKET = "jinad_nodes"
FLOWS_BUCKET = "jinad_flows"
_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration

V = TypeVar("V")


def validate_key(key: str) -> str:
    """Return ``key`` if NATS KV accepts it, else raise ValueError naming it."""
    if not isinstance(key, str) or not _KEY.match(key) or key[0] == "." or key[-1] == ".":
        raise ValueError(f"{key!r} is not a valid KV key (letters, digits and -_=/. only)")
    return key


class Bucket(Generic[V]):
    """One KV bucket, opened (created if missing) on first use; subclasses type the values."""

    what = "key"

    def __init__(self, js: JetStreamContext, *, bucket: str, ttl_s: float | None = None) -> None:
        self._js = js
        self.bucket = bucket
        self.ttl_s = ttl_s
        self._kv: KeyValue | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bucket={self.bucket!r}, ttl_s={self.ttl_s})"

    def _encode(self, value: V) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> V:
        raise NotImplementedError

    async def open(self) -> KeyValue:
        """Create the bucket, or bind to it if it exists (keeping its existing TTL)."""
        if self._kv is None:
            self._kv = await self._create_or_bind()
        return self._kv

    async def _create_or_bind(self) -> KeyValue:
        try:
            return await self._js.create_key_value(bucket=self.bucket, ttl=self.ttl_s, history=1)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_IN_USE:
                raise
        logger.warning("KV bucket %s exists with another configuration; using it as is", self.bucket)
        return await self._js.key_value(self.bucket)

    async def put(self, key: str, value: V) -> int:
        """Store ``value`` under ``key``; returns the revision."""
        kv = await self.open()
        return await kv.put(validate_key(key), self._encode(value))

    async def get(self, key: str) -> V:
        """The value under ``key``; KeyNotFound if there is none (never None)."""
        kv = await self.open()
        try:
            entry = await kv.get(validate_key(key))
        except nats.js.errors.KeyNotFoundError as exc:
            raise KeyNotFound(f"{self.what} {key!r} not found", detail={"key": key}) from exc
        return self._decode(entry.value or b"")

    async def delete(self, key: str) -> None:
        kv = await self.open()
        await kv.delete(validate_key(key))

    async def items(self) -> dict[str, V]:
        """Every live key and value; an empty dict for an empty bucket."""
        kv = await self.open()
        watcher = await kv.watchall(ignore_deletes=True)
        found: dict[str, V] = {}
        try:
            async for entry in watcher:
                if entry is None:  # the watcher's "caught up" marker
                    break
                self._collect(found, entry.key, entry.value)
        finally:
            await watcher.stop()
        return found

    def _collect(self, found: dict[str, V], key: str, data: bytes | None) -> None:
        try:
            found[key] = self._decode(data or b"")
        except EventDecodeError as exc:
            logger.warning("skipping %s %r in %s: %s", self.what, key, self.bucket, exc)


class NodeRegistry(Bucket[NodeInfo]):
    """Live nodes by name, in bucket ``jinad_nodes``; a record lives ``ttl_s`` after its put."""

    what = "node"

    def __init__(self, js: JetStreamContext, *, ttl_s: float, bucket: str = NODES_BUCKET) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        super().__init__(js, bucket=bucket, ttl_s=ttl_s)

    def _encode(self, value: NodeInfo) -> bytes:
        return codec.encode(value)

    def _decode(self, data: bytes) -> NodeInfo:
        return codec.decode(data, NodeInfo)

    async def register(self, info: NodeInfo) -> int:
        """Put ``info`` under its own name (the heartbeat)."""
        return await self.put(info.name, info)

    async def list(self) -> list[NodeInfo]:
        """Live nodes, sorted by name."""
        return [info for _, info in sorted((await self.items()).items())]


class FlowStore(Bucket[Any]):
    """Flow records by flow id, in bucket ``jinad_flows`` (no TTL).

    Values are pydantic models or JSON-able dicts. With ``model_cls`` set, :meth:`get`
    and :meth:`list` return that model; without it, plain dicts.
    """

    what = "flow"

    def __init__(
        self, js: JetStreamContext, *, model_cls: type[BaseModel] | None = None, bucket: str = FLOWS_BUCKET
    ) -> None:
        super().__init__(js, bucket=bucket, ttl_s=None)
        self.model_cls = model_cls

    def _encode(self, value: Any) -> bytes:
        return codec.encode(value) if isinstance(value, BaseModel) else codec.dumps(value)

    def _decode(self, data: bytes) -> Any:
        return codec.decode(data, self.model_cls) if self.model_cls else codec.loads(data)

    async def list(self) -> dict[str, Any]:
        """Every flow record by flow id."""
        return await self.items()
