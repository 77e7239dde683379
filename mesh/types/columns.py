"""A batch of Documents as columns, and the received columns decoded one field at a time.

A batch is ``[head, *data_frames]``. The head is a small orjson object
``{"n": N, "i": ids, "c": {field: spec}}``; each other scalar field (``text``, ``tags``...)
is one orjson frame holding the list of N values (``{"j": frame}``); each array
field is one raw frame of shape ``(N, *shape)`` when every Document's array has
one dtype and shape (``{"a": frame, "d": dtype, "s": shape}``), else one frame
per Document (``{"p": [[frame, dtype, shape] or null, ...]}``); chunks and
matches are a nested batch of every Document's chunks in order with the count
per Document (``{"k": counts, "b": head}``). A field no Document sets is left out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from mesh.errors import BadRequestError

if TYPE_CHECKING:
    import numpy as np

    from mesh.types.document import Document

__all__ = ["ARRAY_FIELDS", "Columns", "encode_columns", "stack_exact"]

_DEFAULTS: dict[str, Any] = {"text": "", "mime_type": "", "uri": "", "parent_id": "",
                             "granularity": 0}
_DICTS = ("tags", "scores")
SCALAR_FIELDS = ("id", *_DEFAULTS, *_DICTS)
ARRAY_FIELDS = ("blob", "embedding")
_NESTED = {"chunks": "_chunks", "matches": "_matches"}


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise BadRequestError(f"a Document holds a value that is not JSON-serialisable: {exc}") from exc


def _raw(frame: Any) -> Any:
    return frame.buffer if hasattr(frame, "buffer") else frame


# -- dtypes ---------------------------------------------------------------------------------
def dtype_descr(dtype: np.dtype[Any]) -> Any:
    """A JSON-safe description of ``dtype`` that keeps structured fields and their offsets."""
    if dtype.names is None and dtype.subdtype is None and not dtype.metadata:
        return dtype.str  # what dtype_to_descr gives, without its checks
    from numpy.lib.format import dtype_to_descr

    return dtype_to_descr(dtype)


def descr_dtype(descr: Any) -> np.dtype[Any]:
    if isinstance(descr, str):
        return _plain_dtype(descr)
    from numpy.lib.format import descr_to_dtype

    return descr_to_dtype(_tuples(descr))


@functools.lru_cache(maxsize=256)
def _plain_dtype(descr: str) -> np.dtype[Any]:
    import numpy as np

    return np.dtype(descr)  # what descr_to_dtype does with a string


def _tuples(descr: Any) -> Any:
    """JSON turned the descr's tuples (fields, titled names, subarray shapes) into lists."""
    if isinstance(descr, list):
        return [tuple(_tuples(x) if i < 2 else tuple(x) if isinstance(x, list) else x
                      for i, x in enumerate(f)) if isinstance(f, list) else f for f in descr]
    return descr


# -- encoding ---------------------------------------------------------------------------------
def encode_columns(docs: Sequence[Document], frames: list[Any]) -> dict[str, Any]:
    """The head of ``docs`` as columns; their data frames are appended to ``frames``."""
    cols: dict[str, Any] = {}
    for name in SCALAR_FIELDS[1:]:
        values = [getattr(d, name) for d in docs]
        if any(values):
            cols[name] = {"j": _append(frames, _dumps(values))}
    for name in ARRAY_FIELDS:
        spec = array_spec([getattr(d, name) for d in docs], frames, docs, name)
        if spec is not None:
            cols[name] = spec
    for name, slot in _NESTED.items():
        nested = [getattr(d, slot) or () for d in docs]
        if any(nested):
            flat = [c for group in nested for c in group]
            cols[name] = {"k": [len(g) for g in nested], "b": encode_columns(flat, frames)}
    return {"n": len(docs), "i": [d.id for d in docs], "c": cols}


def _append(frames: list[Any], frame: Any) -> int:
    frames.append(frame)
    return len(frames) - 1


def array_spec(values: Sequence[Any], frames: list[Any], docs: Sequence[Any], name: str) -> Any:
    """One frame for the whole column when every array has one dtype and shape, else one each."""
    import numpy as np

    present = [v for v in values if v is not None]
    if not present:
        return None
    arrays = [None if v is None else _checked(np.asarray(v), docs[i], name) for i, v in enumerate(values)]
    first = arrays[0]
    if first is not None and all(a is not None and a.dtype == first.dtype and a.shape == first.shape
                                 for a in arrays):
        matrix = stack_exact(arrays, first)  # type: ignore[arg-type]
        return {"a": _append(frames, _bytes_of(matrix)), "d": dtype_descr(first.dtype),
                "s": list(first.shape)}
    return {"p": [None if a is None else [_append(frames, _bytes_of(a)), dtype_descr(a.dtype), list(a.shape)]
                  for a in arrays]}


def stack_exact(arrays: Sequence[np.ndarray[Any, Any]], first: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``(N, *shape)`` of arrays of one dtype and shape, byte for byte (``np.stack`` drops byte
    order and the padding of structured dtypes)."""
    import numpy as np

    out = np.empty((len(arrays), *first.shape), dtype=first.dtype)
    if out.size and first.dtype.itemsize:
        rows = out.reshape(-1).view(np.uint8).reshape(len(arrays), -1)
        for i, a in enumerate(arrays):
            rows[i] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    return out


def _checked(array: np.ndarray[Any, Any], doc: Any, name: str) -> np.ndarray[Any, Any]:
    if array.dtype.hasobject:
        raise BadRequestError(
            f"Document {getattr(doc, 'id', doc)}: {name} has dtype object, which cannot travel as raw "
            "bytes; convert it to a numeric or string dtype")
    return array


def _bytes_of(array: np.ndarray[Any, Any]) -> Any:
    import numpy as np

    if not array.size:
        return b""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _array_from(frame: Any, dtype: np.dtype[Any], shape: list[int]) -> np.ndarray[Any, Any]:
    import numpy as np

    if not math.prod(shape) or not dtype.itemsize:
        out = np.empty(shape, dtype=dtype)
    else:
        out = np.frombuffer(_raw(frame), dtype=dtype).reshape(shape)
    out.flags.writeable = False
    return out


# -- decoding ---------------------------------------------------------------------------------
class Columns:
    """Received columns of a batch; each field is decoded on first use and may be replaced."""

    __slots__ = ("_cache", "_changed", "_frames", "_head", "n")

    def __init__(self, head: dict[str, Any], frames: Sequence[Any]) -> None:
        self._head = head
        self._frames = frames
        self._cache: dict[str, Any] = {}
        self._changed: set[str] = set()
        self.n = int(head.get("n", 0))

    def __repr__(self) -> str:
        return f"<Columns n={self.n} fields={sorted(self._head.get('c', {}))}>"

    def _spec(self, name: str) -> Any:
        return self._head.get("c", {}).get(name)

    def values(self, name: str) -> list[Any]:
        """A scalar field's N values (shared with the cache: copy before changing it)."""
        if name == "id":
            return self._head["i"]  # type: ignore[no-any-return]
        if name not in self._cache:
            spec = self._spec(name)
            if spec is None:
                default = _DEFAULTS.get(name, "")
                self._cache[name] = None if name in _DICTS else [default] * self.n
            else:
                self._cache[name] = orjson.loads(_raw(self._frames[spec["j"]]))
        return self._cache[name]  # type: ignore[no-any-return]

    def arrays(self, name: str) -> Any:
        """An ``(N, ...)`` read-only array over the frame, or a list of arrays (or None) per doc."""
        if name not in self._cache:
            spec = self._spec(name)
            if spec is None:
                value: Any = [None] * self.n
            elif "a" in spec:
                value = _array_from(self._frames[spec["a"]], descr_dtype(spec["d"]), [self.n, *spec["s"]])
            else:
                value = [None if r is None else _array_from(self._frames[r[0]], descr_dtype(r[1]), r[2])
                         for r in spec["p"]]
            self._cache[name] = value
        return self._cache[name]

    def replace(self, name: str, value: Any) -> None:
        """Set a whole field: a list of N values, or an ``(N, ...)`` array for an array field."""
        self._cache[name] = value
        self._changed.add(name)

    def nested(self, name: str) -> list[list[Document]] | None:
        spec = self._spec(name)
        if spec is None:
            return None
        flat = Columns(spec["b"], self._frames).documents()
        out, at = [], 0
        for count in spec["k"]:
            out.append(flat[at:at + count])
            at += count
        return out

    def documents(self) -> list[Document]:
        """Every Document of the batch; arrays are rows of one writable copy of each column."""
        import numpy as np

        from mesh.types.document import Document

        n = self.n
        fields: dict[str, Any] = {name: self.values(name) for name in SCALAR_FIELDS}
        for name in ARRAY_FIELDS:
            col = self.arrays(name)
            if isinstance(col, list):
                fields[name] = [None if a is None else np.array(a) for a in col]
            else:
                writable = np.array(col)
                fields[name] = [writable[i, ...] for i in range(n)]
        for name in _NESTED:
            fields[name] = self.nested(name) or [None] * n
        tags, scores = fields["tags"], fields["scores"]
        return [Document(id=fields["id"][i], text=fields["text"][i], mime_type=fields["mime_type"][i],
                         uri=fields["uri"][i], parent_id=fields["parent_id"][i],
                         granularity=fields["granularity"][i],
                         tags=dict(tags[i]) if tags else None, scores=dict(scores[i]) if scores else None,
                         blob=fields["blob"][i], embedding=fields["embedding"][i],
                         chunks=fields["chunks"][i], matches=fields["matches"][i])
                for i in range(n)]

    def encode(self) -> list[Any]:
        """``[head, *frames]``: the received frames, with only the replaced fields encoded anew."""
        if not self._changed:
            return [_dumps(self._head), *self._frames]
        frames = list(self._frames)
        cols = dict(self._head.get("c", {}))
        for name in self._changed:
            old = cols.pop(name, None)
            if old is not None:
                for index in _frames_of(old):
                    frames[index] = b""  # dropped; the indices of the others stay
            spec = self._spec_for(name, self._cache[name], frames)
            if spec is not None:
                cols[name] = spec
        return [_dumps({"n": self.n, "i": self._head["i"], "c": cols}), *frames]

    def _spec_for(self, name: str, value: Any, frames: list[Any]) -> Any:
        if name not in ARRAY_FIELDS:
            return {"j": _append(frames, _dumps(list(value)))}
        if isinstance(value, list):
            return array_spec(value, frames, self.values("id"), name)
        _checked(value, f"#0-{self.n - 1}", name)
        return {"a": _append(frames, _bytes_of(value)), "d": dtype_descr(value.dtype),
                "s": list(value.shape[1:])}


def _frames_of(spec: dict[str, Any]) -> list[int]:
    if "j" in spec:
        return [spec["j"]]
    if "a" in spec:
        return [spec["a"]]
    if "p" in spec:
        return [r[0] for r in spec["p"] if r is not None]
    return [i for sub in spec["b"]["c"].values() for i in _frames_of(sub)]
