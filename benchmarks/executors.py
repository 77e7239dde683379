"""Executors the benchmarks use by import path (``benchmarks.executors:ReadText``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from mesh import DocumentArray, Executor, requests

__all__ = ["STAMP", "EmbeddingMatrix", "EmbeddingPerDoc", "EveryDoc", "LogStamp", "ReadText", "TextStage",
           "TouchColumns"]

logger = logging.getLogger(__name__)

STAMP = "bench-stamp"


class ReadText(Executor):
    """Reads every Document's text, which makes the Pea decode and re-encode them."""

    @requests
    def read(self, docs: DocumentArray) -> None:
        total = 0
        for doc in docs:
            total += len(doc.text)
        self.chars = total


class LogStamp(Executor):
    """Logs one line per request: ``bench-stamp <time.time()> <parameters['seq']>``."""

    @requests
    def stamp(self, parameters: dict[str, Any]) -> None:
        logger.info("%s %.6f %s", STAMP, time.time(), parameters.get("seq", "-"))


class TextStage(Executor):
    """Workload (a): reads every Document's text and writes a field of it."""

    @requests
    def run(self, docs: DocumentArray) -> None:
        for doc in docs:
            doc.tags["chars"] = len(doc.text)


class EmbeddingPerDoc(Executor):
    """Workload (b): reads every Document's embedding one by one and writes a field."""

    @requests
    def run(self, docs: DocumentArray) -> None:
        for doc in docs:
            doc.tags["first"] = float(doc.embedding[0])


class EmbeddingMatrix(Executor):
    """Workload (c): works on ``docs.embeddings`` as one matrix and sends a new one."""

    @requests
    def run(self, docs: DocumentArray) -> None:
        docs.embeddings = docs.embeddings * np.float32(0.5)


class TouchColumns(Executor):
    """Reads the text and tags columns without building Documents."""

    @requests
    def run(self, docs: DocumentArray) -> None:
        self.seen = (len(docs.texts), len(docs.tags))


class EveryDoc(Executor):
    """Builds every Document (and so re-encodes them from Documents)."""

    @requests
    def run(self, docs: DocumentArray) -> None:
        self.seen = sum(1 for _ in docs)
