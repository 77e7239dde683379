"""Documents as plain JSON for HTTP users.

An array is ``{"dtype", "shape", "data"}`` with ``data`` as nested lists for booleans,
integers, strings and finite floats; any other array (complex, structured, datetime,
bytes, floats with NaN or infinity) carries its raw bytes as ``"base64"`` instead, and a
structured ``dtype`` is a list of ``[name, dtype(, shape)]`` fields, so nothing is lost.
"""

from __future__ import annotations

import base64
from typing import Any

from mesh.errors import BadRequestError
from mesh.types.columns import descr_dtype, dtype_descr
from mesh.types.document import Document

__all__ = ["doc_from_json", "doc_to_json"]

_SCALARS = ("text", "mime_type", "uri", "parent_id", "tags", "scores", "granularity")


def doc_to_json(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"id": doc.id}
    for name in _SCALARS:
        value = getattr(doc, name)
        if value:
            out[name] = value
    for name in ("blob", "embedding"):
        value = getattr(doc, name)
        if value is not None:
            out[name] = _array_json(value)
    if doc.chunks:
        out["chunks"] = [doc_to_json(c) for c in doc.chunks]
    if doc.matches:
        out["matches"] = [doc_to_json(m) for m in doc.matches]
    return out


def doc_from_json(data: Any) -> Document:
    if isinstance(data, str):
        return Document(text=data)
    if not isinstance(data, dict):
        raise BadRequestError(f"a Document must be a JSON object or a string, not {type(data).__name__}")
    unknown = set(data) - {"id", "blob", "embedding", "chunks", "matches", *_SCALARS}
    if unknown:
        raise BadRequestError(f"unknown Document fields: {', '.join(sorted(unknown))}")
    doc = Document(id=data.get("id"))
    for name in _SCALARS:
        if name in data:
            setattr(doc, name, data[name])
    for name in ("blob", "embedding"):
        if data.get(name) is not None:
            setattr(doc, name, _array(data[name], name))
    doc.chunks.extend(doc_from_json(c) for c in data.get("chunks") or [])
    doc.matches.extend(doc_from_json(m) for m in data.get("matches") or [])
    return doc


def _array_json(value: Any) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {"dtype": dtype_descr(value.dtype), "shape": list(value.shape)}
    kind = value.dtype.kind
    if kind in "biu" or (kind == "f" and bool(np.isfinite(value).all())) or _unicode(value):
        out["data"] = value.tolist()
    else:
        raw = np.ascontiguousarray(value).tobytes()
        out["base64"] = base64.b64encode(raw).decode("ascii")
    return out


def _unicode(value: Any) -> bool:
    """A string array whose every character can travel in JSON (no surrogates, none past U+10FFFF)."""
    import numpy as np

    if value.dtype.kind != "U":
        return False
    if not value.size or not value.dtype.itemsize:
        return True
    codes = np.ascontiguousarray(value).view(np.dtype("u4").newbyteorder(value.dtype.byteorder))
    return not bool(((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))).any())


def _array(value: Any, name: str) -> Any:
    import numpy as np

    try:
        if isinstance(value, dict) and "base64" in value:
            dtype = descr_dtype(value["dtype"])
            raw = base64.b64decode(value["base64"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(value["shape"]).copy()
        if isinstance(value, dict):
            descr = value.get("dtype")
            arr = np.asarray(value["data"], dtype=None if descr is None else descr_dtype(descr))
            return arr.reshape(value["shape"]) if "shape" in value else arr
        return np.asarray(value)
    except (KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise BadRequestError(f"{name} is not a valid array: {exc}") from exc
