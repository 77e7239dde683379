"""Executors for the integration tests; Peas import them by ``tests.integration.executors.basic:Name``."""

from __future__ import annotations

import os
import time
from typing import Any

from mesh import Document, DocumentArray, Executor, requests


class Worker(Executor):
    """One executor with an endpoint per behaviour a test needs."""

    @requests(on="/index")
    def upper(self, docs: DocumentArray) -> None:
        for d in docs:
            d.text = d.text.upper()

    @requests(on="/custom")
    def custom(self, docs: DocumentArray, parameters: dict[str, Any]) -> None:
        for d in docs:
            d.tags["parameters"] = parameters
            d.tags["pod"] = self.metas["name"]
            d.tags["pid"] = os.getpid()

    @requests(on="/fail")
    def fail(self, docs: DocumentArray) -> None:
        for d in docs:
            if d.text == "bad":
                raise ValueError(f"cannot handle document {d.id}")

    @requests(on="/replace")
    def replace(self, docs: DocumentArray) -> DocumentArray:
        return DocumentArray(Document(text=f"new {d.text}") for d in docs)

    @requests(on="/stats")
    def stats(self, docs: DocumentArray) -> dict[str, Any]:
        return {"docs": len(docs), "chars": sum(len(d.text) for d in docs)}

    @requests(on="/wrong_return")
    def wrong_return(self, docs: DocumentArray) -> Any:
        return docs[0] if docs else 42

    @requests(on="/unencodable")
    def unencodable(self, docs: DocumentArray) -> None:
        for d in docs:
            d.tags["set"] = {1, 2}

    @requests(on="/slow")
    def slow(self, parameters: dict[str, Any]) -> None:
        time.sleep(float(parameters.get("sleep_s", 0.1)))


class Tagger(Executor):
    """Marks every Document with ``key`` (a tag and a match of that id); reports a count."""

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    @requests
    def tag(self, docs: DocumentArray) -> dict[str, Any]:
        for d in docs:
            d.tags[self.key] = self.metas["replica_id"]
            d.matches.append(Document(id=f"{self.key}-{self.metas['replica_id']}"))
        return {"docs": len(docs)}


class Broken(Executor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        raise RuntimeError("model file weights.bin is missing")


class Closer(Executor):
    """Counts the Documents it sees and writes the count to ``path`` when the Pea stops."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path, self.seen = path, 0

    @requests
    def count(self, docs: DocumentArray) -> None:
        self.seen += len(docs)

    def close(self) -> None:
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(f"{self.metas['pea']} saw {self.seen}")


class SlowStart(Executor):
    """Takes ``delay_s`` to construct, like an executor loading a large model."""

    def __init__(self, delay_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        time.sleep(delay_s)
