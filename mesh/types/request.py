"""Request: the message that travels through a Flow.

On the wire a Request is ``[header, docs_structure, *array_frames]``. The
header is small JSON (id, endpoint, parameters, route, status, document
count); the Documents are decoded only when something asks for them, so a Pea
that does not touch them forwards the original bytes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from mesh.types.codec import decode_docs, dumps, encode_docs, loads
from mesh.types.document import Document, DocumentArray

__all__ = ["Request", "RouteEntry"]

_EMPTY_DOCS = b"[]"

RouteEntry = dict[str, Any]  # {"pod": str, "pea": str, "start": float, "end": float | None}


class Request:
    """A request envelope with lazily decoded Documents."""

    __slots__ = ("_docs", "_frames", "header")

    def __init__(self, header: dict[str, Any], *, frames: Sequence[Any] | None = None,
                 docs: Iterable[Document] | None = None) -> None:
        self.header = header
        self._frames = list(frames) if frames is not None else None
        self._docs: DocumentArray | None = DocumentArray(docs) if docs is not None else None
        if self._frames is None and self._docs is None:
            self._docs = DocumentArray()

    @classmethod
    def new(cls, endpoint: str, docs: Iterable[Document] = (), *,
            parameters: dict[str, Any] | None = None, request_id: str | None = None) -> Request:
        header = {
            "id": request_id or uuid.uuid4().hex,
            "endpoint": endpoint,
            "parameters": parameters or {},
            "route": [],
            "status": {"code": 0},
        }
        return cls(header, docs=docs)

    # -- wire ---------------------------------------------------------------
    @classmethod
    def from_frames(cls, frames: Sequence[Any]) -> Request:
        return cls(loads(frames[0]), frames=frames[1:])

    def to_frames(self) -> list[Any]:
        if self._docs is not None:
            body = encode_docs(self._docs) if self._docs else [_EMPTY_DOCS]
            self.header["n"] = len(self._docs)
        else:
            body = self._frames or [_EMPTY_DOCS]
        return [dumps(self.header), *body]

    # -- content ------------------------------------------------------------
    @property
    def docs(self) -> DocumentArray:
        if self._docs is None:
            self._docs = decode_docs(self._frames or ())
            self._frames = None
        return self._docs

    @docs.setter
    def docs(self, docs: Iterable[Document]) -> None:
        self._docs = docs if isinstance(docs, DocumentArray) else DocumentArray(docs)
        self._frames = None

    @property
    def decoded(self) -> bool:
        return self._docs is not None

    @property
    def num_docs(self) -> int:
        if self._docs is not None:
            return len(self._docs)
        return int(self.header.get("n", 0))

    @property
    def nbytes(self) -> int:
        if self._frames is None:
            return 0
        return sum(len(f) for f in self._frames)

    @property
    def id(self) -> str:
        return str(self.header["id"])

    @property
    def endpoint(self) -> str:
        return str(self.header["endpoint"])

    @property
    def parameters(self) -> dict[str, Any]:
        return self.header.setdefault("parameters", {})

    @property
    def route(self) -> list[RouteEntry]:
        return self.header.setdefault("route", [])

    @property
    def status(self) -> dict[str, Any]:
        return self.header.setdefault("status", {"code": 0})

    @property
    def failed(self) -> bool:
        return bool(self.status.get("code"))

    def mark_failed(self, *, pod: str, exc: BaseException, traceback: str = "") -> None:
        self.header["status"] = {
            "code": 1,
            "pod": pod,
            "error": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback,
        }

    def enter(self, pod: str, pea: str) -> RouteEntry:
        entry: RouteEntry = {"pod": pod, "pea": pea, "start": time.time(), "end": None}
        self.route.append(entry)
        return entry

    def route_str(self) -> str:
        return "▸".join([e["pea"] for e in self.route] + ["⚐"])

    def __repr__(self) -> str:
        state = "failed" if self.failed else "ok"
        return f"<Request {self.id[:8]} {self.endpoint} docs={self.num_docs} {state}>"
