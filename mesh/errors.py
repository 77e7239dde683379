"""One error tree for the whole project.

Every error carries an HTTP status and optional structured detail; the HTTP
edge, the NATS replies and the CLI all render the same ``{"error", "message",
"detail"}`` envelope from it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequestError",
    "ConflictError",
    "ExecutorNotFoundError",
    "FlowConfigError",
    "ForbiddenError",
    "InvalidNameError",
    "MeshError",
    "NotFoundError",
    "NotSupportedYetError",
    "PeaStartError",
    "RemoteExecutionError",
    "RequestTimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "error_class",
]


class MeshError(Exception):
    """Root of every error the project raises on purpose."""

    status: int = 500

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        """The one error envelope, on HTTP and on the bus alike."""
        return {"error": type(self).__name__, "message": self.message, "detail": self.detail,
                "status_code": self.status}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> MeshError:
        """Rebuild the same error type from an envelope (falls back to MeshError)."""
        err_cls = error_class(str(body.get("error"))) or MeshError
        err = err_cls(str(body.get("message", "")), detail=body.get("detail") or {})
        status = body.get("status_code", body.get("status"))
        if err_cls is MeshError and isinstance(status, int):
            err.status = status
        return err


class BadRequestError(MeshError):
    status = 400


class FlowConfigError(BadRequestError):
    """A Flow, Pod or executor configuration that cannot be built."""


class ExecutorNotFoundError(FlowConfigError):
    pass


class NotSupportedYetError(BadRequestError):
    pass


class InvalidNameError(BadRequestError, ValueError):
    """A name (node, flow, pod, pea) that cannot be a subject token, a path or a label.
    Also a ValueError, so that pydantic validators turn it into a validation error."""


class UnauthorizedError(MeshError):
    status = 401


class ForbiddenError(MeshError):
    """Refused by a rule: an unsigned or untrusted command, an executor or image not allowed."""

    status = 403


class NotFoundError(MeshError):
    status = 404


class ConflictError(MeshError):
    status = 409


class PeaStartError(MeshError):
    """A Pea that exited or failed before it reported ready."""

    status = 500


class RemoteExecutionError(MeshError):
    """An executor raised while handling a request."""

    status = 500


class UnavailableError(MeshError):
    status = 503


class RequestTimeoutError(MeshError):
    status = 504


def error_class(name: str, root: type[MeshError] = MeshError) -> type[MeshError] | None:
    """The MeshError subclass called ``name`` (an envelope's ``error``), if this side has it."""
    if root.__name__ == name and root.__module__.startswith("mesh."):
        return root
    for sub in root.__subclasses__():
        found = error_class(name, sub)
        if found is not None:
            return found
    return None
