"""The column API of DocumentArray: views over the received frames, assignment, per-doc access."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mesh import Document, DocumentArray
from mesh.types.codec import decode_docs, encode_docs
from mesh.types.request import Request

pytestmark = pytest.mark.unit


def _wire(frames: list[Any]) -> list[bytes]:
    return [bytes(f) for f in frames]


def _received(docs: list[Document]) -> DocumentArray:
    return decode_docs(_wire(encode_docs(docs)))


def _docs(n: int = 4, dim: int = 8) -> list[Document]:
    return [Document(text=f"t{i}", embedding=np.full(dim, i, dtype="f4"), tags={"i": i}) for i in range(n)]


def test_one_frame_per_array_field_when_shapes_agree() -> None:
    frames = encode_docs(_docs(5, 768))
    raw = [f for f in frames if len(f) == 5 * 768 * 4]
    assert len(raw) == 1


def test_embeddings_is_a_read_only_view_over_the_frame() -> None:
    frames = _wire(encode_docs(_docs()))
    docs = decode_docs(frames)
    matrix = docs.embeddings
    assert matrix.shape == (4, 8) and matrix.dtype == np.float32
    assert not matrix.flags.writeable
    assert np.shares_memory(matrix, np.frombuffer(next(f for f in frames if len(f) == 4 * 8 * 4), "u1"))
    assert docs._cols is not None  # nothing was built per Document
    assert "text" not in docs._cols._cache and "tags" not in docs._cols._cache


def test_columns_and_documents_see_the_same_data() -> None:
    docs = _received(_docs())
    assert docs.texts == ["t0", "t1", "t2", "t3"]
    assert docs.tags == [{"i": i} for i in range(4)]
    assert [d.text for d in docs] == docs.texts
    assert np.array_equal(np.stack([d.embedding for d in docs]), docs.embeddings)
    docs[0].embedding[0] = 7.0  # per-doc arrays stay writable, as before
    assert docs.embeddings[0, 0] == 7.0


def test_assignment_is_sent_as_one_frame_and_seen_per_doc() -> None:
    docs = _received(_docs())
    docs.embeddings = docs.embeddings * 2
    docs.texts = [t.upper() for t in docs.texts]
    back = _received(list(decode_docs(_wire(encode_docs(docs)))))
    assert back.texts == ["T0", "T1", "T2", "T3"]
    assert [float(d.embedding[0]) for d in back] == [0.0, 2.0, 4.0, 6.0]
    frames = encode_docs(docs)
    assert sum(1 for f in frames if len(f) == 4 * 8 * 4) == 1


def test_assignment_on_documents_built_here() -> None:
    docs = DocumentArray(_docs())
    docs.embeddings = np.ones((4, 3), dtype="f8")
    assert docs[2].embedding.shape == (3,)
    docs.texts = list("abcd")
    assert docs[3].text == "d"
    with pytest.raises(ValueError, match="3 text values for 4 Documents"):
        docs.texts = ["a", "b", "c"]


def test_mismatched_shapes_name_the_first_doc_that_differs() -> None:
    batch = _docs(3)
    batch[2].embedding = np.zeros(5, dtype="f4")
    docs = _received(batch)
    with pytest.raises(ValueError, match=f"Document {batch[2].id} \\(#2\\)"):
        _ = docs.embeddings
    assert [d.embedding.shape for d in docs] == [(8,), (8,), (5,)]  # per-doc frames still work


def test_a_doc_without_an_embedding_is_named() -> None:
    batch = _docs(3)
    batch[1].embedding = None
    with pytest.raises(ValueError, match=f"Document {batch[1].id} \\(#1\\) has no embedding"):
        _ = _received(batch).embeddings


def test_a_stage_that_reads_only_embeddings_forwards_the_other_frames() -> None:
    frames = _wire(encode_docs(_docs()))
    docs = decode_docs(frames)
    _ = docs.embeddings
    out = encode_docs(docs)
    assert [bytes(f) for f in out[1:]] == frames[1:]


def test_request_keeps_columns_until_a_document_is_asked_for() -> None:
    req = Request.new("/x", _docs())
    again = Request.from_frames(_wire(req.to_frames()))
    assert again.num_docs == 4 and len(again.docs) == 4
    assert again.docs._cols is not None
    again.docs.append(Document(text="new"))
    assert again.docs.texts[-1] == "new" and len(again.docs) == 5


def test_tags_changed_in_place_through_the_column_view_are_sent() -> None:
    docs = _received(_docs())
    for tags in docs.tags:
        tags["seen"] = True
    assert [d.tags for d in _received(list(decode_docs(_wire(encode_docs(docs)))))] == [
        {"i": i, "seen": True} for i in range(4)]
    plain = _received([Document(text="x")])
    plain.tags[0]["k"] = 1
    assert _received(list(decode_docs(_wire(encode_docs(plain)))))[0].tags == {"k": 1}


def test_a_matrix_of_objects_is_refused_when_sent() -> None:
    from mesh.errors import BadRequestError

    docs = _received(_docs(2))
    docs.embeddings = np.array([[object()], [object()]])
    with pytest.raises(BadRequestError, match="dtype object"):
        encode_docs(docs)
