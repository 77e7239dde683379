"""Documents to ZeroMQ frames and back.

A list of Documents travels as columns (see :mod:`mesh.types.columns`): a small orjson
head, one orjson frame per scalar field, and one raw frame per array field for the
whole batch when shapes agree. Decoding is lazy per field: a stage that reads only
``docs.embeddings`` never parses the texts or tags, and forwards their frames as
they came. No base64, no float lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from mesh.types.columns import Columns, encode_columns
from mesh.types.document import Document, DocumentArray

__all__ = ["decode_docs", "dumps", "encode_docs", "loads"]


def dumps(obj: Any) -> bytes:
    """orjson with numpy scalars and arrays in tags allowed."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(data)


def encode_docs(docs: Sequence[Document]) -> list[Any]:
    """Return ``[head, *data_frames]`` ready for ``send_multipart``."""
    if isinstance(docs, DocumentArray) and docs._cols is not None:
        return docs._cols.encode()
    frames: list[Any] = []
    head = encode_columns(docs, frames)
    return [dumps(head), *frames]


def decode_docs(frames: Sequence[Any]) -> DocumentArray:
    """Inverse of :func:`encode_docs`; ``frames[0]`` is the head. Nothing is decoded yet."""
    if not frames:
        return DocumentArray()
    head = orjson.loads(frames[0].buffer if hasattr(frames[0], "buffer") else frames[0])
    if not isinstance(head, dict) or not head.get("n"):
        return DocumentArray()
    return DocumentArray.from_columns(Columns(head, frames[1:]))
