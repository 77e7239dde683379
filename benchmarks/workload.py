"""The Documents every throughput and latency figure sends: short texts, 100 per message."""

from __future__ import annotations

from typing import Any

from mesh import Document, Request

__all__ = ["ENDPOINT", "frame_bytes", "message_frames", "short_docs"]

ENDPOINT = "/index"


def short_docs(n: int, *, start: int = 0) -> list[Document]:
    """``n`` Documents of about 30 characters of text each."""
    return [Document(text=f"short text document number {i}") for i in range(start, start + n)]


def message_frames(docs: list[Document], request_size: int) -> list[list[Any]]:
    """The frames the mesh Client would send for ``docs`` (for the raw chain's client)."""
    return [Request.new(ENDPOINT, docs[i:i + request_size]).to_frames()
            for i in range(0, len(docs), request_size)]


def frame_bytes(frames: list[Any]) -> int:
    return sum(len(f) for f in frames)
