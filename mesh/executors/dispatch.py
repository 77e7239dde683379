"""Calling the Executor method bound to a request's endpoint, and applying what it returns."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any

from mesh.executors.base import Executor, Handler
from mesh.types.document import Document, DocumentArray
from mesh.types.request import Request

__all__ = ["RESULTS_KEY", "run_handler"]

logger = logging.getLogger("mesh.pea")

RESULTS_KEY = "__results__"  # parameters[RESULTS_KEY][pod] holds what a method returned as a dict


def run_handler(executor: Executor, req: Request, *, pod: str,
                docs_matrix: list[DocumentArray] | None = None) -> bool:
    """Run the method bound to ``req.endpoint``; False when it failed (``req`` is then marked failed).

    A method that asks for neither ``docs`` nor ``docs_matrix`` leaves the Documents undecoded.
    """
    handler = executor.handler_for(req.endpoint)
    if handler is None:
        return True
    try:
        result = getattr(executor, handler.name)(**handler.kwargs(_arguments(handler, req, docs_matrix)))
        if result is not None:
            _apply(req, result, pod=pod, method=f"{type(executor).__name__}.{handler.name}")
    except Exception as exc:  # noqa: BLE001 - the request fails, the Pea stays up
        logger.error("%s on %s failed: %s: %s", handler.name, req.endpoint, type(exc).__name__, exc)
        req.mark_failed(pod=pod, exc=exc, traceback=traceback.format_exc())
        return False
    return True


def _arguments(handler: Handler, req: Request, matrix: list[DocumentArray] | None) -> dict[str, Any]:
    available: dict[str, Any] = {"parameters": req.parameters, "endpoint": req.endpoint, "request": req}
    if handler.wants_docs:
        available["docs"] = req.docs
        available["docs_matrix"] = matrix if matrix is not None else [req.docs]
    return available


def _apply(req: Request, result: Any, *, pod: str, method: str) -> None:
    if isinstance(result, dict):
        req.parameters.setdefault(RESULTS_KEY, {})[pod] = result
        return
    iterable = isinstance(result, Iterable) and not isinstance(result, (str, bytes))
    docs = list(result) if iterable else None
    if docs is None or not all(isinstance(d, Document) for d in docs):
        raise TypeError(f"{method} returned {type(result).__name__}; "
                        "return None, a list of Documents, or a dict of results")
    req.docs = docs
