"""Documents and Requests to ZeroMQ frames and back: structure as JSON, arrays as raw frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from mesh import Document, DocumentArray, Request
from mesh.errors import BadRequestError
from mesh.types.codec import decode_docs, encode_docs

pytestmark = pytest.mark.unit

NUMERIC_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64", "complex64", "complex128", ">i4", "<U5",
                  "datetime64[ms]"]


def _wire(frames: list[Any]) -> list[bytes]:
    """What the receiving side gets from ``recv_multipart``: plain bytes per frame."""
    return [bytes(f) for f in frames]


def roundtrip(docs: list[Document]) -> DocumentArray:
    return decode_docs(_wire(encode_docs(docs)))


def assert_array_same(got: Any, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _sample(dtype: str) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "U":
        return np.array([["ab", "héllo"], ["日本", "🙂"]], dtype=dt)
    if dt.kind == "M":
        return np.array(["2024-01-02T03:04:05.006", "1970-01-01"], dtype=dt)
    if dt.kind == "b":
        return np.array([[True, False, True]])
    values = np.arange(-3, 9).reshape(3, 4) if dt.kind in "if" else np.arange(12).reshape(3, 4)
    array = values.astype(dt)
    return array + 1j * array.astype(dt) if dt.kind == "c" else array


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_every_dtype_roundtrips_as_raw_frame(dtype: str) -> None:
    blob = _sample(dtype)
    frames = encode_docs([Document(blob=blob, embedding=blob[:1])])
    assert len(frames) == 3  # structure + one raw frame per array
    assert len(frames[1]) == blob.nbytes  # raw bytes, no base64, no lists
    got = decode_docs(_wire(frames))[0]
    assert_array_same(got.blob, blob)
    assert_array_same(got.embedding, blob[:1])


@pytest.mark.parametrize("array", [
    np.array(3.5), np.array(7, dtype="uint8"), np.array("xyz", dtype="<U5"),
], ids=["f64", "u8", "U5"])
def test_zero_d_arrays_keep_their_shape(array: np.ndarray) -> None:
    assert_array_same(roundtrip([Document(embedding=array)])[0].embedding, array)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 4)])
def test_empty_arrays_keep_shape_and_dtype(shape: tuple[int, ...]) -> None:
    array = np.zeros(shape, dtype="float32")
    assert_array_same(roundtrip([Document(blob=array)])[0].blob, array)


def test_large_array_travels_as_one_frame_of_its_bytes() -> None:
    array = np.random.default_rng(0).random(1_000_000)
    frames = encode_docs([Document(embedding=array)])
    assert len(frames[0]) < 200  # the structure does not grow with the array
    assert len(frames[1]) == array.nbytes
    assert_array_same(decode_docs(_wire(frames))[0].embedding, array)


@pytest.mark.parametrize("view", ["slice", "transpose", "reversed", "fortran"])
def test_non_contiguous_arrays(view: str) -> None:
    base = np.arange(60, dtype="int32").reshape(6, 10)
    array = {"slice": base[::2, 1::3], "transpose": base.T, "reversed": base[::-1],
             "fortran": np.asfortranarray(base)}[view]
    got = roundtrip([Document(blob=array)])[0].blob
    assert_array_same(got, array)
    got[0, 0] = -1  # decoded arrays are the receiver's own, writable
    assert base.min() == 0


@pytest.mark.parametrize("text", ["", "hello", "🎉 emoji 👩‍👩‍👧", "中文字符 日本語 한국어", "a\x00b\nc\t\"'"])
def test_text_roundtrips(text: str) -> None:
    doc = Document(text=text, uri="file:///tmp/ü.txt" if text else "", mime_type="text/plain")
    assert roundtrip([doc])[0] == doc


def test_nested_chunks_and_matches_with_arrays() -> None:
    grandchild = Document(text="g", embedding=np.ones((2, 2), dtype="float16"), parent_id="c1")
    chunk = Document(id="c1", text="chunk", blob=np.arange(3, dtype="uint16"), chunks=[grandchild],
                     granularity=1)
    match = Document(id="m1", text="match", embedding=np.array([0.5, 0.25]), scores={"cosine": 0.9},
                     matches=[Document(id="mm", blob=np.array(True))])
    doc = Document(id="root", text="root", embedding=np.arange(4.0), chunks=[chunk], matches=[match])
    got = roundtrip([doc, Document(text="second")])
    assert got[0] == doc
    assert got[0].chunks[0].chunks[0].embedding.dtype == np.float16
    assert got[0].matches["m1"].matches[0].blob.shape == ()
    assert got[1].text == "second"


def test_tags_with_nested_json() -> None:
    tags = {"a": 1, "b": [1, 2.5, None, True], "c": {"d": {"e": ["x", {"f": "日本"}]}}, "empty": {}}
    assert roundtrip([Document(tags=tags)])[0].tags == tags


def test_numpy_values_in_tags_become_json() -> None:
    got = roundtrip([Document(tags={"n": np.int64(3), "v": np.arange(3)})])[0]
    assert got.tags == {"n": 3, "v": [0, 1, 2]}


def test_object_dtype_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="dtype object.*convert it"):
        encode_docs([Document(id="d1", blob=np.array([{"a": 1}, None], dtype=object))])


def test_unserialisable_tag_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="not JSON-serialisable"):
        encode_docs([Document(tags={"s": {1, 2}})])


def test_no_documents() -> None:
    assert roundtrip([]) == []
    assert decode_docs([]) == []


# -- Request -------------------------------------------------------------------------


def test_request_header_roundtrip() -> None:
    docs = [Document(text="a", embedding=np.arange(3.0)), Document(text="b")]
    req = Request.new("/search", docs, parameters={"top_k": 3, "nested": {"x": [1]}}, request_id="r1")
    req.enter("gateway", "gateway")
    got = Request.from_frames(_wire(req.to_frames()))
    assert (got.id, got.endpoint, got.parameters) == ("r1", "/search", {"top_k": 3, "nested": {"x": [1]}})
    assert got.num_docs == 2 and not got.decoded
    assert got.route_str() == "gateway▸⚐"
    assert not got.failed
    assert got.docs == docs


def test_request_failure_status_roundtrip() -> None:
    req = Request.new("/index", [Document(text="a")])
    req.mark_failed(pod="encoder", exc=ValueError("no model"))
    got = Request.from_frames(_wire(req.to_frames()))
    assert got.failed
    assert got.status["pod"] == "encoder"
    assert (got.status["error"], got.status["message"]) == ("ValueError", "no model")


def test_untouched_request_forwards_identical_bytes() -> None:
    docs = [Document(text="x", blob=np.arange(100, dtype="int16"), tags={"k": "v"}),
            Document(matches=[Document(embedding=np.eye(3))])]
    sent = _wire(Request.new("/index", docs).to_frames())
    req = Request.from_frames(sent)
    req.enter("pod0", "pod0")  # a Pea touches the header only
    forwarded = _wire(req.to_frames())
    assert not req.decoded
    assert forwarded[1:] == sent[1:]
    assert req.nbytes == sum(len(f) for f in sent[1:])
    assert orjson.loads(forwarded[0])["route"][0]["pod"] == "pod0"


def test_request_docs_replaced_are_encoded_again() -> None:
    req = Request.from_frames(_wire(Request.new("/x", [Document(text="old")]).to_frames()))
    req.docs = [Document(text="new"), Document(text="newer")]
    got = Request.from_frames(_wire(req.to_frames()))
    assert got.num_docs == 2
    assert got.docs.texts == ["new", "newer"]


def test_request_without_docs() -> None:
    got = Request.from_frames(_wire(Request.new("/status").to_frames()))
    assert got.num_docs == 0 and got.docs == []
