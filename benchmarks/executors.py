"""Executors the benchmarks use by import path (``benchmarks.executors:ReadText``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from mesh import DocumentArray, Executor, requests

__all__ = ["STAMP", "LogStamp", "ReadText"]

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
