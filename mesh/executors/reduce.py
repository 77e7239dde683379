"""How the parts of one request, arriving from several upstream pods, become one."""

from __future__ import annotations

from typing import Sequence

from mesh.types.document import Document, DocumentArray

__all__ = ["concat_unique", "merge_by_id"]


def concat_unique(parts: Sequence[Sequence[Document]]) -> DocumentArray:
    """All Documents of all parts, the first one of each id kept."""
    seen: set[str] = set()
    out = DocumentArray()
    for part in parts:
        for doc in part:
            if doc.id not in seen:
                seen.add(doc.id)
                out.append(doc)
    return out


def merge_by_id(parts: Sequence[Sequence[Document]], *, chunks: bool = True,
                matches: bool = True) -> DocumentArray:
    """Documents with the same id become one; their chunks and/or matches are joined."""
    by_id: dict[str, Document] = {}
    out = DocumentArray()
    for part in parts:
        for doc in part:
            first = by_id.get(doc.id)
            if first is None:
                by_id[doc.id] = doc
                out.append(doc)
                continue
            if chunks:
                _extend_unique(first.chunks, doc.chunks)
            if matches:
                _extend_unique(first.matches, doc.matches)
    return out


def _extend_unique(into: DocumentArray, more: Sequence[Document]) -> None:
    ids = {d.id for d in into}
    into.extend(d for d in more if d.id not in ids)
