"""What each route says about itself for the OpenAPI document: its inputs, its answers.

``@body(Model)`` and ``@query(Model)`` (:mod:`mesh.http.validation`) record the inputs;
``@answers(...)`` records the 200 body and the error statuses the route can answer (each
one the error envelope). :mod:`mesh.http.openapi` reads these from the routes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["ApiDoc", "FormField", "answers", "api_doc", "record"]

F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__mesh_api__"


@dataclass(frozen=True)
class FormField:
    """One field of a multipart form."""

    name: str
    description: str
    required: bool = False
    many: bool = False  # several files under the same name


@dataclass(frozen=True)
class ApiDoc:
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    form: tuple[FormField, ...] = ()
    ok: type[BaseModel] | None = None
    ok_content: dict[str, dict[str, Any]] = field(default_factory=dict)  # media type -> schema
    errors: tuple[int, ...] = ()
    open: bool = False  # no token needed


def api_doc(func: Callable[..., Any]) -> ApiDoc | None:
    doc = getattr(func, _ATTR, None)
    return doc if isinstance(doc, ApiDoc) else None


def record(func: F, **changes: Any) -> F:
    """``func``'s ApiDoc with ``changes``; error statuses add up."""
    doc = api_doc(func) or ApiDoc()
    if "errors" in changes:
        changes["errors"] = tuple(sorted(set(doc.errors) | set(changes["errors"])))
    setattr(func, _ATTR, dataclasses.replace(doc, **changes))
    return func


def answers(ok: type[BaseModel] | None = None, *, errors: tuple[int, ...] = (),
            content: dict[str, dict[str, Any]] | None = None, open: bool = False,
            form: tuple[FormField, ...] = ()) -> Callable[[F], F]:
    """The route answers ``ok`` (a JSON body) or ``content`` (media type -> schema) with 200,
    and the error envelope with each of ``errors``. ``open``: no token needed."""
    def decorator(func: F) -> F:
        changes: dict[str, Any] = {"errors": errors, "open": open}
        if ok is not None:
            changes["ok"] = ok
        if content:
            changes["ok_content"] = content
        if form:
            changes["form"] = form
        return record(func, **changes)
    return decorator
