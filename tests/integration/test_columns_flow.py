"""Random Documents and batches through a real two-pod Flow: one pod reads columns only (and
forwards the frames it did not change), the other builds every Document and re-encodes them;
column executors see and send matrices. Real processes and sockets."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mesh import Document, Flow
from tests.fixtures.procs import mesh_children
from tests.unit.test_codec_properties import batches, same_doc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def columns_flow() -> Iterator[Flow]:
    before = set(mesh_children())
    with Flow().add(uses="benchmarks.executors:TouchColumns").add(uses="benchmarks.executors:EveryDoc") as flow:
        yield flow
    assert set(mesh_children()) <= before


@pytest.fixture(scope="module")
def matrix_flow() -> Iterator[Flow]:
    before = set(mesh_children())
    with Flow().add(uses="benchmarks.executors:EmbeddingMatrix").add(
            uses="benchmarks.executors:EmbeddingPerDoc") as flow:
        yield flow
    assert set(mesh_children()) <= before


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(docs=batches())
def test_random_batches_come_back_exactly(columns_flow: Flow, docs: list[Document]) -> None:
    if not docs:
        docs = [Document(text="one")]
    results = columns_flow.index(docs, request_size=len(docs))
    assert results is not None and not any(r.failed for r in results)
    back = [d for r in results for d in r.docs]
    assert len(back) == len(docs)
    assert all(map(same_doc, docs, back))


def test_a_matrix_stage_and_a_per_doc_stage_see_the_same_data(matrix_flow: Flow) -> None:
    docs = [Document(text=f"d{i}", embedding=np.full(768, i, dtype="f4")) for i in range(250)]
    results = matrix_flow.index(docs, request_size=100)
    assert results is not None and not any(r.failed for r in results)
    back = [d for r in results for d in r.docs]
    assert [d.text for d in back] == [d.text for d in docs]
    assert [d.tags["first"] for d in back] == [i * 0.5 for i in range(250)]
    assert np.array_equal(results[0].docs.embeddings, np.stack([d.embedding for d in docs[:100]]) * 0.5)


def test_mismatched_embeddings_fail_the_request_and_name_the_doc(matrix_flow: Flow) -> None:
    docs = [Document(embedding=np.zeros(4, dtype="f4")), Document(embedding=np.zeros(3, dtype="f4"))]
    (resp,) = matrix_flow.index(docs) or []
    assert resp.failed and resp.status["error"] == "ValueError"
    assert docs[1].id in resp.status["message"]
