"""Document: the unit of data that flows through a Flow."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

if TYPE_CHECKING:
    from mesh.types.columns import Columns

__all__ = ["Document", "DocumentArray"]

_SLOTS = ("id", "text", "blob", "embedding", "tags", "_chunks", "_matches",
          "mime_type", "uri", "scores", "parent_id", "granularity")
_FIELDS = ("id", "text", "blob", "embedding", "tags", "chunks", "matches",
           "mime_type", "uri", "scores", "parent_id", "granularity")


class Document:
    """A piece of data: text, arrays, tags, and nested chunks and matches.

    ``blob`` and ``embedding`` hold numpy arrays of any dtype and shape; they
    travel between Peas as raw ZeroMQ frames.
    """

    __slots__ = _SLOTS

    def __init__(
        self,
        *,
        id: str | None = None,
        text: str = "",
        blob: Any = None,
        embedding: Any = None,
        tags: dict[str, Any] | None = None,
        chunks: Iterable[Document] | None = None,
        matches: Iterable[Document] | None = None,
        mime_type: str = "",
        uri: str = "",
        scores: dict[str, float] | None = None,
        parent_id: str = "",
        granularity: int = 0,
    ) -> None:
        self.id = id or os.urandom(16).hex()  # as unique as uuid4, and 8x cheaper
        self.text = text
        self.blob = blob
        self.embedding = embedding
        self.tags: dict[str, Any] = tags if tags is not None else {}
        self._chunks = DocumentArray(chunks) if chunks else None
        self._matches = DocumentArray(matches) if matches else None
        self.mime_type = mime_type
        self.uri = uri
        self.scores: dict[str, float] = scores if scores is not None else {}
        self.parent_id = parent_id
        self.granularity = granularity

    @property
    def chunks(self) -> DocumentArray:
        """Sub-Documents; the list is made on first use (most Documents have none)."""
        if self._chunks is None:
            self._chunks = DocumentArray()
        return self._chunks

    @chunks.setter
    def chunks(self, docs: Iterable[Document]) -> None:
        self._chunks = docs if isinstance(docs, DocumentArray) else DocumentArray(docs)

    @property
    def matches(self) -> DocumentArray:
        """Documents matched to this one (search results); made on first use."""
        if self._matches is None:
            self._matches = DocumentArray()
        return self._matches

    @matches.setter
    def matches(self, docs: Iterable[Document]) -> None:
        self._matches = docs if isinstance(docs, DocumentArray) else DocumentArray(docs)

    @property
    def content(self) -> Any:
        """The first non-empty of text, blob and uri."""
        if self.text:
            return self.text
        if self.blob is not None:
            return self.blob
        return self.uri

    def __repr__(self) -> str:
        parts = [f"id={self.id!r}"]
        if self.text:
            parts.append(f"text={self.text[:40]!r}")
        for name in ("blob", "embedding"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}=<{value.dtype}{list(value.shape)}>")
        if self._chunks:
            parts.append(f"chunks={len(self._chunks)}")
        if self._matches:
            parts.append(f"matches={len(self._matches)}")
        if self.tags:
            parts.append(f"tags={self.tags!r}")
        return f"Document({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return all(_field_equal(getattr(self, f), getattr(other, f)) for f in _FIELDS)

    __hash__ = None  # type: ignore[assignment]


def _field_equal(a: Any, b: Any) -> bool:
    if hasattr(a, "dtype") or hasattr(b, "dtype"):
        if a is None or b is None:
            return a is b
        import numpy as np

        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    return bool(a == b)


class DocumentArray(list[Document]):
    """A list of Documents with lookups by id and column views.

    ``texts``, ``tags``, ``embeddings`` and ``blobs`` read and set a field of every
    Document at once. A batch received from another Pea stays in columns until a
    Document is asked for: ``docs.embeddings`` is then a read-only ``(N, ...)`` view
    over the received frame, and the fields nobody reads are never decoded.
    """

    _cols: Columns | None = None

    @classmethod
    def from_columns(cls, cols: Columns) -> DocumentArray:
        docs = cls()
        docs._cols = cols
        return docs

    def _materialize(self) -> None:
        cols = self._cols
        if cols is not None:
            self._cols = None
            list.extend(self, cols.documents())

    def __len__(self) -> int:
        return self._cols.n if self._cols is not None else list.__len__(self)

    def __iter__(self) -> Iterator[Document]:
        self._materialize()
        return list.__iter__(self)

    @overload
    def __getitem__(self, key: SupportsIndex) -> Document: ...
    @overload
    def __getitem__(self, key: slice) -> DocumentArray: ...
    @overload
    def __getitem__(self, key: str) -> Document: ...

    def __getitem__(self, key: Any) -> Any:
        self._materialize()
        if isinstance(key, str):
            for doc in self:
                if doc.id == key:
                    return doc
            raise KeyError(key)
        if isinstance(key, slice):
            return DocumentArray(super().__getitem__(key))
        return super().__getitem__(key)

    def __repr__(self) -> str:
        if self._cols is not None:
            return f"<DocumentArray {self._cols.n} docs in columns>"
        return f"DocumentArray({list.__repr__(self)})"

    # -- columns ------------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return list(self._cols.values("id")) if self._cols is not None else [d.id for d in self]

    @property
    def texts(self) -> list[str]:
        return self._scalars("text")

    @texts.setter
    def texts(self, values: Iterable[str]) -> None:
        self._set_scalars("text", values)

    @property
    def tags(self) -> list[dict[str, Any]]:
        return self._scalars("tags")

    @tags.setter
    def tags(self, values: Iterable[dict[str, Any]]) -> None:
        self._set_scalars("tags", values)

    @property
    def embeddings(self) -> Any:
        """``(N, ...)`` array of every Document's embedding (read-only); ValueError if they differ."""
        return self._matrix("embedding")

    @embeddings.setter
    def embeddings(self, matrix: Any) -> None:
        self._set_matrix("embedding", matrix)

    @property
    def blobs(self) -> Any:
        """``(N, ...)`` array of every Document's blob (read-only); ValueError if they differ."""
        return self._matrix("blob")

    @blobs.setter
    def blobs(self, matrix: Any) -> None:
        self._set_matrix("blob", matrix)

    def _scalars(self, name: str) -> list[Any]:
        cols = self._cols
        if cols is not None:
            values = cols.values(name)
            if name == "tags":  # dicts the caller may change in place: send them as they end up
                values = [{} for _ in range(cols.n)] if values is None else values
                cols.replace(name, values)
            return list(values)
        return [getattr(d, name) for d in self]

    def _set_scalars(self, name: str, values: Iterable[Any]) -> None:
        values = list(values)
        self._check_len(f"{name} values", len(values))
        if self._cols is not None:
            self._cols.replace(name, values)
            return
        for doc, value in zip(self, values, strict=True):
            setattr(doc, name, value)

    def _matrix(self, name: str) -> Any:
        import numpy as np

        col = self._cols.arrays(name) if self._cols is not None else [getattr(d, name) for d in self]
        if not isinstance(col, list):
            return col
        ids = self.ids
        first = None
        for i, value in enumerate(col):
            if value is None:
                raise ValueError(f"Document {ids[i]} (#{i}) has no {name}")
            value = np.asarray(value)
            if first is None:
                first = value
            elif value.dtype != first.dtype or value.shape != first.shape:
                raise ValueError(f"Document {ids[i]} (#{i}) has a {name} of {value.dtype}{list(value.shape)}"
                                 f", the first has {first.dtype}{list(first.shape)}")
        if first is None:
            return np.empty((0,))
        from mesh.types.columns import stack_exact

        out = stack_exact([np.asarray(v) for v in col], first)
        out.flags.writeable = False
        return out

    def _set_matrix(self, name: str, matrix: Any) -> None:
        import numpy as np

        matrix = np.asarray(matrix)
        if matrix.ndim == 0:
            raise ValueError(f"{name}s must be an (N, ...) array, not a 0-d one")
        self._check_len(f"{name} rows", len(matrix))
        if self._cols is not None:
            self._cols.replace(name, matrix)
            return
        for i, doc in enumerate(self):
            setattr(doc, name, matrix[i, ...])

    def _check_len(self, name: str, count: int) -> None:
        if count != len(self):
            raise ValueError(f"{count} {name} for {len(self)} Documents")


def _materializing(name: str) -> Any:
    base = getattr(list, name)

    def method(self: DocumentArray, *args: Any, **kwargs: Any) -> Any:
        self._materialize()
        return base(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("__setitem__", "__delitem__", "__contains__", "__reversed__", "__eq__", "__ne__",
              "__add__", "__iadd__", "__mul__", "__imul__", "__reduce_ex__", "append", "extend",
              "insert", "pop", "remove", "clear", "index", "count", "sort", "reverse", "copy"):
    setattr(DocumentArray, _name, _materializing(_name))
