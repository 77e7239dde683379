"""Request bodies and query strings decoded once, at the edge, into pydantic models.

``@body(Model)`` hands the handler ``body=Model(...)`` from the JSON body; ``@query(Model)``
hands it ``query=Model(...)`` from the query string. A wrong type or a missing field is a
400 whose message names the field (``lease_s: Input should be a valid number``), and both
decorators document the model in the OpenAPI document. (sanic-ext's ``validate`` puts the
whole pydantic report, model name and URLs included, in one message.)
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from sanic import Request
from sanic.exceptions import BadRequest
from sanic_ext.extensions.openapi import openapi
from sanic_ext.extensions.openapi.builders import OperationStore
from sanic_ext.extensions.openapi.definitions import Component

from mesh.errors import BadRequestError

__all__ = ["body", "problems", "query"]

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def problems(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """``field: what is wrong`` for each error, joined; and the errors as detail."""
    items = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"],
              "type": e["type"]} for e in exc.errors(include_url=False)]
    return "; ".join(f"{i['field']}: {i['message']}" for i in items), items


def _check(model: type[BaseModel], data: Any, error: type[BadRequestError]) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, items = problems(exc)
        raise error(message, detail={"errors": items}) from exc


def _wrap(func: Handler, inject: Callable[[Request], tuple[str, BaseModel]]) -> Handler:
    @functools.wraps(func)
    async def handler(request: Request, *args: Any, **kwargs: Any) -> Any:
        name, value = inject(request)
        return await func(request, *args, **{**kwargs, name: value})

    store: dict[Any, Any] = OperationStore()  # type: ignore[no-untyped-call]
    if func in store:  # openapi decorators applied below this one: keep what they said
        store[handler] = store.pop(func)
    return typing.cast(Handler, handler)


def _json(request: Request) -> dict[str, Any]:
    try:
        data = request.json
    except BadRequest as exc:
        raise BadRequestError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequestError("body must be a JSON object, e.g. {\"uses\": \"_logforward\"}; see /docs")
    return data


def body(model: type[BaseModel], *, error: type[BadRequestError] = BadRequestError,
         ) -> Callable[[Handler], Handler]:
    """The JSON body as ``body=model(...)``; a bad one raises ``error`` (a 400)."""
    def decorator(func: Handler) -> Handler:
        handler = _wrap(func, lambda request: ("body", _check(model, _json(request), error)))
        return typing.cast(Handler, openapi.body({"application/json": Component(model)},
                                                 required=True)(handler))
    return decorator


def _is_list(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is list


def _args(model: type[BaseModel], request: Request) -> dict[str, Any]:
    """The query string's values by field: every value for a list field, else the first."""
    fields = model.model_fields
    return {key: values if key in fields and _is_list(fields[key]) else values[0]
            for key, values in request.args.items()}


def _schema_type(info: FieldInfo) -> type:
    """The scalar type of a query field (``float`` for ``Annotated[float, ...] | None``)."""
    kind: Any = info.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    return kind if kind in (str, int, float, bool) else str


def query(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """The query string as ``query=model(...)``; a bad one is a 400."""
    def decorator(func: Handler) -> Handler:
        handler = _wrap(func, lambda request: ("query", _check(model, _args(model, request),
                                                                BadRequestError)))
        for name, info in model.model_fields.items():
            openapi.parameter(name, _schema_type(info), "query", required=info.is_required(),
                              description=info.description or "")(handler)
        return handler
    return decorator
