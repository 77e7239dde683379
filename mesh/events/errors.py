"""Errors raised by the event layer; all are ``MeshError`` so the edge maps them to a status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mesh.errors import (
    BadRequestError,
    MeshError,
    NotFoundError,
    RequestTimeoutError,
    UnavailableError,
    error_class,
)

if TYPE_CHECKING:
    from mesh.events.models import ErrorBody

__all__ = [
    "BusConnectError",
    "BusTimeoutError",
    "EventDecodeError",
    "KeyNotFound",
    "NoRespondersError",
    "RemoteError",
    "remote_error",
]


class EventDecodeError(BadRequestError, ValueError):
    """Bytes that are not valid JSON, or JSON that does not fit the expected model."""


class BusConnectError(UnavailableError):
    """The NATS server could not be reached (or refused us) within the connect deadline."""


class BusTimeoutError(RequestTimeoutError):
    """A request got no reply before its deadline."""


class NoRespondersError(UnavailableError):
    """Nobody subscribes to the subject a request was sent to."""


class KeyNotFound(NotFoundError):
    """A key that a KV bucket does not hold (or no longer holds, after TTL expiry)."""


class RemoteError(MeshError):
    """An error envelope received from the other side of a request, re-raised here.

    ``error`` is the remote exception's class name, ``status`` its HTTP status.
    ``reply`` holds the whole decoded reply when the envelope came inside a typed reply.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str,
        status: int = 500,
        detail: dict[str, Any] | None = None,
        reply: Any = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.error = error
        self.status = status
        self.reply = reply

    def __str__(self) -> str:
        return f"{self.error}: {self.message}"

    def __repr__(self) -> str:
        return f"RemoteError(error={self.error!r}, status={self.status}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """Forward the remote envelope unchanged (same name, not ``RemoteError``)."""
        return {"error": self.error, "message": self.message, "detail": self.detail,
                "status_code": self.status}


_REMOTE_CLASSES: dict[type[MeshError], type[RemoteError]] = {}


def _remote_class(cls: type[MeshError]) -> type[RemoteError]:
    """``RemoteError`` that is also ``cls``: ``except FlowConfigError`` catches it."""
    if cls is MeshError or issubclass(cls, RemoteError):
        return RemoteError
    if cls not in _REMOTE_CLASSES:
        _REMOTE_CLASSES[cls] = type(cls.__name__, (RemoteError, cls),
                                    {"__module__": cls.__module__, "__doc__": cls.__doc__})
    return _REMOTE_CLASSES[cls]


def remote_error(body: ErrorBody, reply: Any = None) -> RemoteError:
    """The error an envelope from the other side of a request describes, re-raised here as
    the same type (when this side knows it) with the same message, status and detail."""
    cls = _remote_class(error_class(body.error) or MeshError)
    return cls(body.message, error=body.error, status=body.status_code, detail=body.detail,
               reply=reply)
