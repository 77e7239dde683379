"""Executors every Flow can name with a leading underscore."""

from __future__ import annotations

import logging

from mesh.executors.base import Executor, requests
from mesh.executors.reduce import merge_by_id
from mesh.types.document import DocumentArray
from mesh.types.request import Request

__all__ = ["BUILTINS"]

logger = logging.getLogger("mesh.pea")


class PassExecutor(Executor):
    """Forwards every request untouched, without decoding its Documents."""


class RouteExecutor(PassExecutor):
    """The head/tail router of a replicated pod; forwards untouched."""


class LogForwardExecutor(Executor):
    """Forwards every request and logs where it came from."""

    @requests
    def forward(self, request: Request) -> None:
        logger.info("recv %s from %s (%d docs)", _kind(request.endpoint),
                    request.route_str(), request.num_docs)


class MergeExecutor(Executor):
    """All Documents of all parts; one per id, with the chunks and matches of every part."""

    @requests
    def merge(self, docs_matrix: list[DocumentArray]) -> DocumentArray:
        return merge_by_id(docs_matrix)


class MergeMatchesExecutor(Executor):
    """Documents with the same id become one, their matches joined."""

    @requests
    def merge(self, docs_matrix: list[DocumentArray]) -> DocumentArray:
        return merge_by_id(docs_matrix, chunks=False)


class MergeChunksExecutor(Executor):
    """Documents with the same id become one, their chunks joined."""

    @requests
    def merge(self, docs_matrix: list[DocumentArray]) -> DocumentArray:
        return merge_by_id(docs_matrix, matches=False)


class ClearExecutor(Executor):
    """Drops every Document of the request."""

    @requests
    def clear(self, docs: DocumentArray) -> DocumentArray:
        return DocumentArray()


def _kind(endpoint: str) -> str:
    name = endpoint.strip("/").split("/")[-1] or "post"
    return f"{name.capitalize()}Request"


BUILTINS: dict[str, type[Executor]] = {
    "_pass": PassExecutor,
    "_route": RouteExecutor,
    "_logforward": LogForwardExecutor,
    "_merge": MergeExecutor,
    "_merge_matches": MergeMatchesExecutor,
    "_merge_chunks": MergeChunksExecutor,
    "_clear": ClearExecutor,
}
