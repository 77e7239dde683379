"""How the parts of one request, arriving from several upstream pods, become one."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Documents with the same id become one; their chunks and/or matches are joined.

    The parts are left as they are: a Document that takes in another's chunks or matches
    is a copy, so an Executor's ``docs_matrix`` still shows what each upstream sent.
    """
    at: dict[str, int] = {}
    copied: set[str] = set()
    out = DocumentArray()
    for part in parts:
        for doc in part:
            i = at.get(doc.id)
            if i is None:
                at[doc.id] = len(out)
                out.append(doc)
                continue
            if doc.id not in copied:
                copied.add(doc.id)
                out[i] = _copy(out[i])
            if chunks:
                _extend_unique(out[i].chunks, doc.chunks)
            if matches:
                _extend_unique(out[i].matches, doc.matches)
    return out


def _copy(doc: Document) -> Document:
    """A shallow copy with lists of its own for chunks and matches."""
    return Document(id=doc.id, text=doc.text, blob=doc.blob, embedding=doc.embedding,
                    tags=dict(doc.tags), chunks=doc.chunks, matches=doc.matches,
                    mime_type=doc.mime_type, uri=doc.uri, scores=dict(doc.scores),
                    parent_id=doc.parent_id, granularity=doc.granularity)


def _extend_unique(into: DocumentArray, more: Sequence[Document]) -> None:
    ids = {d.id for d in into}
    into.extend(d for d in more if d.id not in ids)
