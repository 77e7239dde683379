"""What a Client accepts as input, cut into requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mesh.errors import BadRequestError
from mesh.types.document import Document
from mesh.types.request import Request

__all__ = ["Inputs", "as_documents", "batch_requests"]

Inputs = Document | str | Iterable[Document | str] | None


def as_documents(inputs: Inputs) -> Iterator[Document]:
    if inputs is None:
        return iter(())
    if isinstance(inputs, (Document, str)):
        inputs = [inputs]
    return (_one(x) for x in inputs)


def _one(x: Any) -> Document:
    if isinstance(x, Document):
        return x
    if isinstance(x, str):
        return Document(text=x)
    if isinstance(x, dict):
        return Document(**x)
    raise BadRequestError(f"cannot send {type(x).__name__} as a Document; send Documents, str or dict")


def batch_requests(endpoint: str, inputs: Inputs, *, request_size: int,
                   parameters: dict[str, Any] | None) -> Iterator[Request]:
    """Lazily yield requests of at most ``request_size`` Documents (one empty one for no input)."""
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequestError(f"parameters must be a dict, not {type(parameters).__name__}")
    if not isinstance(request_size, int) or request_size < 1:
        raise BadRequestError(f"request_size must be a positive integer, not {request_size!r}")
    batch: list[Document] = []
    sent = False
    for doc in as_documents(inputs):
        batch.append(doc)
        if len(batch) >= request_size:
            yield Request.new(endpoint, batch, parameters=parameters)
            batch, sent = [], True
    if batch or not sent:
        yield Request.new(endpoint, batch, parameters=parameters)
