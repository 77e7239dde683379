"""Typed JetStream KV buckets: the node registry (with TTL) and the flow store.

A node's record expires ``ttl_s`` after its last put, so a dead node drops out of
:meth:`NodeRegistry.list` without anyone deleting it. Keys are node names and flow ids;
they must match NATS KV's key alphabet (letters, digits, ``-_=/.``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import BaseModel

from mesh.errors import ConflictError
from mesh.events import codec
from mesh.events.errors import EventDecodeError, KeyNotFound
from mesh.events.models import NodeInfo
from mesh.events.replicas import create_replicated

__all__ = ["FLOWS_BUCKET", "NODES_BUCKET", "Bucket", "FlowStore", "NodeRegistry", "validate_key"]

logger = logging.getLogger(__name__)

NODES_BUCKET = "jinad_nodes"
FLOWS_BUCKET = "jinad_flows"
_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration

T = TypeVar("T")


def validate_key(key: str) -> str:
    """Return ``key`` if NATS KV accepts it, else raise ValueError naming it."""
    if not isinstance(key, str) or not _KEY.match(key) or key[0] == "." or key[-1] == ".":
        raise ValueError(f"{key!r} is not a valid KV key (letters, digits and -_=/. only)")
    return key


class Bucket:
    """One KV bucket of raw bytes, opened (created if missing) on first use."""

    def __init__(self, js: JetStreamContext, *, name: str, ttl_s: float | None = None, what: str = "key",
                 replicas: int | None = None) -> None:
        self._js = js
        self.name = name
        self.ttl_s = ttl_s
        self.what = what
        self.replicas = replicas  # None: 3 in a NATS cluster, else 1 (mesh.events.replicas)
        self._kv: KeyValue | None = None

    def __repr__(self) -> str:
        return f"Bucket(name={self.name!r}, ttl_s={self.ttl_s})"

    async def open(self) -> KeyValue:
        """Create the bucket, or bind to it if it exists (keeping its existing TTL)."""
        if self._kv is None:
            self._kv = await self._create_or_bind()
        return self._kv

    async def _create_or_bind(self) -> KeyValue:
        async def create(replicas: int) -> KeyValue:
            return await self._js.create_key_value(bucket=self.name, ttl=self.ttl_s, history=1,
                                                   replicas=replicas)

        try:
            return await create_replicated(self._js, create, what=f"KV bucket {self.name}",
                                           replicas=self.replicas)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_IN_USE:
                raise
        logger.warning("KV bucket %s exists with another configuration; using it as is", self.name)
        return await self._js.key_value(self.name)

    async def put(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key``; returns the revision."""
        kv = await self.open()
        return await kv.put(validate_key(key), data)

    async def create(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key`` only if it holds nothing (compare-and-set on "no
        revision"): of two writers racing for one key, one wins and the other gets a
        ConflictError. Returns the revision."""
        kv = await self.open()
        try:
            return await kv.create(validate_key(key), data)
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            raise ConflictError(f"{self.what} {key!r} exists already", detail={"key": key}) from exc

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; KeyNotFound if there are none (never None)."""
        kv = await self.open()
        try:
            entry = await kv.get(validate_key(key))
        except ValueError as exc:  # a key that cannot exist (the id came from a URL, say)
            raise KeyNotFound(f"{self.what} {key!r} not found: {exc}", detail={"key": key}) from exc
        except nats.js.errors.KeyNotFoundError as exc:
            raise KeyNotFound(f"{self.what} {key!r} not found", detail={"key": key}) from exc
        return entry.value or b""

    async def delete(self, key: str) -> None:
        kv = await self.open()
        await kv.delete(validate_key(key))

    async def forget(self, key: str) -> None:
        """Remove ``key`` and every trace of it from the bucket's stream (a plain delete leaves
        a marker that each listing then reads: listing cost would grow with every record
        ever deleted). For buckets nobody watches for deletes."""
        await self.open()
        await self._js.purge_stream(f"KV_{self.name}", subject=f"$KV.{self.name}.{validate_key(key)}")

    async def entries(self) -> dict[str, bytes]:
        """Every live key and its bytes; empty for an empty bucket.

        Read by request (the stream's subjects, then each key's last value), not with a
        watcher: a watcher decides it has caught up from the server's pending count, which
        can say "nothing" while values are still on their way, and a busy node would then
        see an empty mesh.
        """
        kv = await self.open()
        prefix = f"$KV.{self.name}."
        info = await self._js.stream_info(f"KV_{self.name}", subjects_filter=f"{prefix}>")
        found: dict[str, bytes] = {}
        for subject in sorted(info.state.subjects or {}):
            key = subject[len(prefix):]
            try:
                entry = await kv.get(key)
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                continue  # deleted, or expired since the listing
            found[key] = entry.value or b""
        return found


def _decode_all(bucket: Bucket, entries: dict[str, bytes], decode: Callable[[bytes], T]) -> dict[str, T]:
    """Decoded values by key; an undecodable value is logged and skipped."""
    decoded: dict[str, T] = {}
    for key, data in sorted(entries.items()):
        try:
            decoded[key] = decode(data)
        except EventDecodeError as exc:
            logger.warning("skipping %s %r in bucket %s: %s", bucket.what, key, bucket.name, exc)
    return decoded


class NodeRegistry:
    """Live nodes by name in bucket ``jinad_nodes``; a record lives ``ttl_s`` after its put."""

    def __init__(self, js: JetStreamContext, *, ttl_s: float, bucket: str = NODES_BUCKET,
                 replicas: int | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self.bucket = Bucket(js, name=bucket, ttl_s=ttl_s, what="node", replicas=replicas)

    def __repr__(self) -> str:
        return f"NodeRegistry({self.bucket!r})"

    async def open(self) -> None:
        await self.bucket.open()

    async def put(self, info: NodeInfo) -> int:
        """Store ``info`` under its name (a heartbeat); returns the revision."""
        return await self.bucket.put(info.name, codec.encode(info))

    async def get(self, name: str) -> NodeInfo:
        """A live node's record; KeyNotFound if it never registered or expired."""
        return codec.decode(await self.bucket.get(name), NodeInfo)

    async def delete(self, name: str) -> None:
        await self.bucket.delete(name)

    async def list(self) -> list[NodeInfo]:
        """Live nodes, sorted by name."""
        entries = await self.bucket.entries()
        return list(_decode_all(self.bucket, entries, _decode_node).values())


class FlowStore:
    """Flow records by flow id in bucket ``jinad_flows`` (no TTL).

    Values are pydantic models or JSON-able dicts. With ``model_cls`` set, :meth:`get`
    and :meth:`list` return that model; without it, plain dicts.
    """

    def __init__(
        self, js: JetStreamContext, *, model_cls: type[BaseModel] | None = None, bucket: str = FLOWS_BUCKET,
        replicas: int | None = None,
    ) -> None:
        self.bucket = Bucket(js, name=bucket, ttl_s=None, what="flow", replicas=replicas)
        self.model_cls = model_cls

    def __repr__(self) -> str:
        return f"FlowStore({self.bucket!r}, model_cls={self.model_cls})"

    async def open(self) -> None:
        await self.bucket.open()

    async def put(self, flow_id: str, record: BaseModel | dict[str, Any]) -> int:
        return await self.bucket.put(flow_id, self._encode(record))

    async def create(self, flow_id: str, record: BaseModel | dict[str, Any]) -> int:
        """The first record of a flow; ConflictError when the id is taken."""
        return await self.bucket.create(flow_id, self._encode(record))

    @staticmethod
    def _encode(record: BaseModel | dict[str, Any]) -> bytes:
        return codec.encode(record) if isinstance(record, BaseModel) else codec.dumps(record)

    async def get(self, flow_id: str) -> Any:
        """The flow's record; KeyNotFound if there is none."""
        return self._decode(await self.bucket.get(flow_id))

    async def delete(self, flow_id: str) -> None:
        """The record goes without a trace: listing costs grow with live flows only."""
        await self.bucket.forget(flow_id)

    async def list(self) -> dict[str, Any]:
        """Every flow record by flow id."""
        return _decode_all(self.bucket, await self.bucket.entries(), self._decode)

    def _decode(self, data: bytes) -> Any:
        return codec.decode(data, self.model_cls) if self.model_cls else codec.loads(data)


def _decode_node(data: bytes) -> NodeInfo:
    return codec.decode(data, NodeInfo)
