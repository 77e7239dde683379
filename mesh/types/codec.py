"""Documents to ZeroMQ frames and back.

The structure of a list of Documents is one orjson frame; every numpy array
(``blob``, ``embedding``) travels as a raw frame of its own, referenced from
the structure by index, dtype and shape. No base64, no float lists.
"""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from mesh.errors import BadRequestError
from mesh.types.document import Document, DocumentArray

__all__ = ["encode_docs", "decode_docs", "dumps", "loads"]

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
    if doc.chunks:
        out["chunks"] = [_doc_to_dict(c, buffers) for c in doc.chunks]
    if doc.matches:
        out["matches"] = [_doc_to_dict(m, buffers) for m in doc.matches]
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
    doc = Document(id=d["id"])
    for name in _TEXT_FIELDS:
        if name in d:
            setattr(doc, name, d[name])
    for name in _ARRAY_FIELDS:
        ref = d.get(name)
        if ref is not None:
            setattr(doc, name, _array_from(ref, arrays))
    if "tags" in d:
        doc.tags = d["tags"]
    if "scores" in d:
        doc.scores = d["scores"]
    doc.granularity = d.get("granularity", 0)
    if "chunks" in d:
        doc.chunks.extend(_dict_to_doc(c, arrays) for c in d["chunks"])
    if "matches" in d:
        doc.matches.extend(_dict_to_doc(m, arrays) for m in d["matches"])
    return doc


def _array_from(ref: dict[str, Any], arrays: Sequence[Any]) -> Any:
    import numpy as np

    frame = arrays[ref["f"]]
    raw = frame.buffer if hasattr(frame, "buffer") else frame
    return np.frombuffer(raw, dtype=np.dtype(ref["d"])).reshape(ref["s"]).copy()
