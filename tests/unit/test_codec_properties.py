"""Property-based: random Documents and batches round-trip exactly through the column codec
and the HTTP JSON form (every dtype, 0-d and empty arrays, chunks and matches, unicode)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mesh import Document
from mesh.types.codec import decode_docs, encode_docs
from mesh.types.jsondoc import doc_from_json, doc_to_json

pytestmark = pytest.mark.unit

_SCALAR_DTYPES = ["|b1", "|i1", "<i2", ">i4", "<i8", "|u1", "<u2", ">u4", "<u8", "<f2", "<f4", ">f8",
                  "<c8", ">c16", "<U3", "|S4", "<M8[ns]", "<m8[s]", "|V3"]
_STRUCTURED = [np.dtype([("x", "<i2"), ("y", "<f8", (2,))]),
               np.dtype([("a", "u1"), ("b", "<c8")], align=True),
               np.dtype([("p", [("q", "<i4"), ("r", "<U2")]), ("s", "?")])]
DTYPES = st.sampled_from([np.dtype(d) for d in _SCALAR_DTYPES] + _STRUCTURED)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
JSONS = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
                     | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                     max_leaves=6)


@st.composite
def arrays(draw: Any, dtype: Any = None, shape: Any = None) -> np.ndarray:
    dtype = dtype if dtype is not None else draw(DTYPES)
    shape = shape if shape is not None else draw(SHAPES)
    raw = draw(st.binary(min_size=dtype.itemsize * int(np.prod(shape)),
                         max_size=dtype.itemsize * int(np.prod(shape))))
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()  # every bit pattern, NaN too
    return _valid_bools(array)


def _valid_bools(array: np.ndarray) -> np.ndarray:
    """A bool byte other than 0 or 1 is not a value numpy makes; keep the bools 0 or 1."""
    if array.dtype.kind == "b":
        return array.view(np.uint8).__and__(1).view(np.bool_)
    for name in array.dtype.names or ():
        if array.dtype[name].kind == "b":
            array[name] = array[name].view(np.uint8) & 1
    return array


def documents(depth: int = 1) -> Any:
    nested = st.lists(st.deferred(lambda: documents(depth - 1)), max_size=2) if depth > 0 else st.just([])
    return st.builds(
        lambda **kw: Document(**kw),
        text=TEXT, mime_type=st.sampled_from(["", "text/plain"]), uri=TEXT,
        tags=st.dictionaries(TEXT, JSONS, max_size=3),
        scores=st.dictionaries(TEXT, st.floats(allow_nan=False, allow_infinity=False), max_size=2),
        granularity=st.integers(0, 3), blob=st.none() | arrays(), embedding=st.none() | arrays(),
        chunks=nested, matches=nested)


@st.composite
def batches(draw: Any) -> list[Document]:
    """Batches where every doc's embedding often agrees (one frame) and sometimes not."""
    docs = draw(st.lists(documents(), max_size=6))
    if docs and draw(st.booleans()):
        dtype, shape = draw(DTYPES), draw(SHAPES)
        for doc in docs:
            doc.embedding = draw(arrays(dtype, shape))
    return docs


def same_array(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.names:  # field by field: the padding between fields is not data
        return all(same_array(a[name], b[name]) for name in a.dtype.names)
    return bool(a.tobytes() == b.tobytes())


def same_doc(a: Document, b: Document) -> bool:
    plain = ("id", "text", "mime_type", "uri", "parent_id", "granularity", "tags", "scores")
    return (all(getattr(a, f) == getattr(b, f) for f in plain)
            and same_array(a.blob, b.blob) and same_array(a.embedding, b.embedding)
            and len(a.chunks) == len(b.chunks) and all(map(same_doc, a.chunks, b.chunks))
            and len(a.matches) == len(b.matches) and all(map(same_doc, a.matches, b.matches)))


def _wire(frames: list[Any]) -> list[bytes]:
    return [bytes(f) for f in frames]


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(batches())
def test_batches_roundtrip_exactly(docs: list[Document]) -> None:
    back = decode_docs(_wire(encode_docs(docs)))
    assert len(back) == len(docs)
    assert all(map(same_doc, docs, back))


@FAST
@given(batches())
def test_a_forwarded_batch_is_unchanged(docs: list[Document]) -> None:
    once = decode_docs(_wire(encode_docs(docs)))
    _ = once.texts, once.tags
    twice = decode_docs(_wire(encode_docs(once)))
    assert all(map(same_doc, docs, twice))


@FAST
@given(st.lists(documents(0), min_size=1, max_size=5), st.data())
def test_a_replaced_column_is_seen_per_doc(docs: list[Document], data: Any) -> None:
    received = decode_docs(_wire(encode_docs(docs)))
    matrix = data.draw(arrays(shape=(len(docs), *data.draw(SHAPES))))
    received.embeddings = matrix
    back = decode_docs(_wire(encode_docs(received)))
    assert same_array(back.embeddings, matrix)
    assert all(same_array(d.embedding, matrix[i, ...]) for i, d in enumerate(back))
    assert [d.text for d in back] == [d.text for d in docs]


@FAST
@given(documents())
def test_http_json_roundtrips_exactly(doc: Document) -> None:
    back = doc_from_json(orjson.loads(orjson.dumps(doc_to_json(doc))))
    assert same_doc(doc, back)
