"""Documents to ZeroMQ frames and back.

The structure of a list of Documents is one orjson frame; every numpy array
(``blob``, ``embedding``) travels as a raw frame of its own, referenced from
the structure by index, dtype and shape. No base64, no float lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from mesh.errors import BadRequestError
from mesh.types.document import Document, DocumentArray

__all__ = ["decode_docs", "dumps", "encode_docs", "loads"]

_ARRAY_FIELDS = ("blob", "embedding")
_TEXT_FIELDS = ("text", "mime_type", "uri", "parent_id")


def dumps(obj: Any) -> bytes:
    """orjson with numpy scalars and arrays in tags allowed."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(data)


def encode_docs(docs: Sequence[Document]) -> list[Any]:
    """Return ``[structure, *array_buffers]`` ready for ``send_multipart``."""
    buffers: list[Any] = []
    structure = [_doc_to_dict(d, buffers) for d in docs]
    try:
        head = dumps(structure)
    except TypeError as exc:
        raise BadRequestError(f"a Document holds a value that is not JSON-serialisable: {exc}") from exc
    return [head, *buffers]


def decode_docs(frames: Sequence[Any]) -> DocumentArray:
    """Inverse of :func:`encode_docs`; ``frames[0]`` is the structure."""
    if not frames:
        return DocumentArray()
    structure = orjson.loads(frames[0])
    arrays = frames[1:]
    return DocumentArray(_dict_to_doc(d, arrays) for d in structure)


def _doc_to_dict(doc: Document, buffers: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": doc.id}
    for name in _TEXT_FIELDS:
        value = getattr(doc, name)
        if value:
            out[name] = value
    for name in _ARRAY_FIELDS:
        value = getattr(doc, name)
        if value is not None:
            out[name] = _array_ref(value, buffers, doc.id, name)
    if doc.tags:
        out["tags"] = doc.tags
    if doc.scores:
        out["scores"] = doc.scores
    if doc.granularity:
        out["granularity"] = doc.granularity
    if doc._chunks:
        out["chunks"] = [_doc_to_dict(c, buffers) for c in doc._chunks]
    if doc._matches:
        out["matches"] = [_doc_to_dict(m, buffers) for m in doc._matches]
    return out


def _array_ref(value: Any, buffers: list[Any], doc_id: str, name: str) -> dict[str, Any]:
    import numpy as np

    array = np.asarray(value)
    if array.dtype.hasobject:
        raise BadRequestError(
            f"Document {doc_id}: {name} has dtype object, which cannot travel as raw bytes; "
            "convert it to a numeric or string dtype"
        )
    shape = list(array.shape)  # before ascontiguousarray, which makes a 0-d array 1-d
    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)  # any dtype, datetimes too
    buffers.append(raw.data if array.size else b"")
    return {"f": len(buffers) - 1, "d": array.dtype.str, "s": shape}


def _dict_to_doc(d: dict[str, Any], arrays: Sequence[Any]) -> Document:
    get = d.get
    blob, embedding = get("blob"), get("embedding")
    chunks, matches = get("chunks"), get("matches")
    return Document(
        id=d["id"], text=get("text", ""), mime_type=get("mime_type", ""), uri=get("uri", ""),
        parent_id=get("parent_id", ""), tags=get("tags"), scores=get("scores"),
        granularity=get("granularity", 0),
        blob=None if blob is None else _array_from(blob, arrays),
        embedding=None if embedding is None else _array_from(embedding, arrays),
        chunks=[_dict_to_doc(c, arrays) for c in chunks] if chunks else None,
        matches=[_dict_to_doc(m, arrays) for m in matches] if matches else None)


def _array_from(ref: dict[str, Any], arrays: Sequence[Any]) -> Any:
    import numpy as np

    frame = arrays[ref["f"]]
    raw = frame.buffer if hasattr(frame, "buffer") else frame
    return np.frombuffer(raw, dtype=np.dtype(ref["d"])).reshape(ref["s"]).copy()
