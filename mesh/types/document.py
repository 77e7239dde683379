"""Document: the unit of data that flows through a Flow."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, SupportsIndex, overload

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
    """A list of Documents with lookups by id and column views."""

    @overload
    def __getitem__(self, key: SupportsIndex) -> Document: ...
    @overload
    def __getitem__(self, key: slice) -> DocumentArray: ...
    @overload
    def __getitem__(self, key: str) -> Document: ...

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for doc in self:
                if doc.id == key:
                    return doc
            raise KeyError(key)
        if isinstance(key, slice):
            return DocumentArray(super().__getitem__(key))
        return super().__getitem__(key)

    @property
    def texts(self) -> list[str]:
        return [d.text for d in self]

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self]
