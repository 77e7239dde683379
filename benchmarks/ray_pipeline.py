"""Ray's side of :mod:`benchmarks.columns_flow`: two actors in a pipeline per workload, the
second fed the first's result by reference, at most 64 batches of 100 in flight. The text and
per-Document workloads pass lists of Documents (pickled); the matrix one passes the texts and
one ``(100, 768)`` float32 array per batch (Ray's zero-copy path for numpy)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from benchmarks.context import Context
from mesh import Document

__all__ = ["passes", "single"]

WINDOW = 64


@ray.remote
class Stage:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def run(self, batch: Any) -> Any:
        if self.kind == "text":
            for doc in batch:
                doc.tags["chars"] = len(doc.text)
        elif self.kind == "embed_doc":
            for doc in batch:
                doc.tags["first"] = float(doc.embedding[0])
        else:
            texts, matrix = batch
            return texts, matrix * np.float32(0.5)
        return batch


def _pipeline(kind: str, batches: list[Any]) -> Callable[[], None]:
    first, second = Stage.remote(kind), Stage.remote(kind)  # type: ignore[attr-defined]

    def send() -> None:
        pending: list[Any] = []
        for batch in batches:
            pending.append(second.run.remote(first.run.remote(batch)))
            if len(pending) >= WINDOW:
                ray.get(pending.pop(0))
        ray.get(pending)
    return send


def passes(ctx: Context, texts: list[Document], embedded: list[Document], *,
           request_size: int) -> dict[str, Callable[[], None]]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    ctx.stack.callback(ray.shutdown)
    chunks = range(0, len(texts), request_size)
    matrices = [([d.text for d in embedded[i:i + request_size]],
                 np.stack([d.embedding for d in embedded[i:i + request_size]])) for i in chunks]
    return {"ray_text": _pipeline("text", [texts[i:i + request_size] for i in chunks]),
            "ray_embed_doc": _pipeline("embed_doc", [embedded[i:i + request_size] for i in chunks]),
            "ray_embed_matrix": _pipeline("embed_matrix", matrices)}


def single(dim: int) -> Callable[[], None]:
    """One Document (its text and a ``(1, dim)`` float32 embedding) through two matrix actors,
    waited for: Ray's single-Document latency (after :func:`passes` started Ray)."""
    first, second = Stage.remote("embed_matrix"), Stage.remote("embed_matrix")  # type: ignore[attr-defined]
    batch = (["single"], np.ones((1, dim), dtype=np.float32))

    def send() -> None:
        ray.get(second.run.remote(first.run.remote(batch)))
    for _ in range(20):  # the actors' processes start on first use
        send()
    return send
