"""A Flow's uploaded files in the ``jinad_files`` JetStream object store.

Spawn requests name the flow's object (``SpawnRequest.files_ref``) instead of carrying
the files: a NATS message is limited by the broker's ``max_payload`` (1 MB by default),
an object is sent in chunks, so uploads are bounded only by the edge's upload limit.
One object per flow or pod id holds every file as ``{relative path: base64}``, the
shape of ``SpawnRequest.files``.
"""

from __future__ import annotations

import base64
import logging

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from mesh.events import codec
from mesh.events.errors import KeyNotFound
from mesh.events.replicas import create_replicated

__all__ = ["FILES_BUCKET", "FlowFiles"]

logger = logging.getLogger(__name__)

FILES_BUCKET = "jinad_files"
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration


class FlowFiles:
    """``put(key, files)`` on the edge, ``get(key)`` on each node that spawns, ``delete(key)``."""

    def __init__(self, js: JetStreamContext, *, bucket: str = FILES_BUCKET,
                 replicas: int | None = None) -> None:
        self._js = js
        self.bucket = bucket
        self.replicas = replicas  # None: 3 in a NATS cluster, else 1 (mesh.events.replicas)
        self._store: ObjectStore | None = None

    def __repr__(self) -> str:
        return f"FlowFiles(bucket={self.bucket!r})"

    async def open(self) -> ObjectStore:
        if self._store is None:
            async def create(replicas: int) -> ObjectStore:
                return await self._js.create_object_store(bucket=self.bucket, replicas=replicas)

            try:
                self._store = await create_replicated(
                    self._js, create, what=f"object store {self.bucket}", replicas=self.replicas)
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != _STREAM_IN_USE:
                    raise
                self._store = await self._js.object_store(self.bucket)
        return self._store

    async def put(self, key: str, files: dict[str, bytes]) -> None:
        store = await self.open()
        encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
        await store.put(key, codec.dumps(encoded))

    async def get(self, key: str) -> dict[str, str]:
        """The files under ``key`` as ``{relative path: base64}``; KeyNotFound if there are none."""
        store = await self.open()
        try:
            result = await store.get(key)
        except nats.js.errors.ObjectNotFoundError as exc:
            raise KeyNotFound(f"no uploaded files under {key!r}", detail={"key": key}) from exc
        files = codec.loads(result.data or b"{}")
        if not isinstance(files, dict):
            raise KeyNotFound(f"the files under {key!r} are not a mapping", detail={"key": key})
        return {str(k): str(v) for k, v in files.items()}

    async def delete(self, key: str) -> None:
        """Remove the files under ``key``; nothing happens when there are none."""
        store = await self.open()
        try:
            await store.delete(key)
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.ObjectDeletedError):
            pass
