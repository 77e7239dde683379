"""Request bodies and query strings decoded once, at the edge, into pydantic models.

``@body(Model)`` hands the handler ``body=Model(...)`` from the JSON body; ``@query(Model)``
hands it ``query=Model(...)`` from the query string. A wrong type or a missing field is a
400 whose message names the field (``lease_s: Input should be a valid number``), and both
decorators record the model for the OpenAPI document (:mod:`mesh.http.apidoc`). (sanic-ext's
``validate`` puts the whole pydantic report, model name and URLs included, in one message.)
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from sanic import Request

from mesh.errors import BadRequestError
from mesh.events.codec import loads
from mesh.events.errors import EventDecodeError
from mesh.http.apidoc import record

__all__ = ["body", "problems", "query"]

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def problems(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """``field: what is wrong`` for each error, joined; and the errors as detail."""
    items = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"],
              "type": e["type"]} for e in exc.errors(include_url=False)]
    return "; ".join(f"{i['field']}: {i['message']}" for i in items), items


def _check(model: type[BaseModel], data: Any, error: type[BadRequestError], *,
           strict: bool = False) -> BaseModel:
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        message, items = problems(exc)
        raise error(message, detail={"errors": items}) from exc


def _wrap(func: Handler, inject: Callable[[Request], tuple[str, BaseModel]]) -> Handler:
    @functools.wraps(func)
    async def handler(request: Request, *args: Any, **kwargs: Any) -> Any:
        name, value = inject(request)
        return await func(request, *args, **{**kwargs, name: value})

    return typing.cast(Handler, handler)  # functools.wraps kept what apidoc recorded on func


def _json(request: Request) -> dict[str, Any]:
    """The body as strict JSON (orjson): no NaN or Infinity, no lone surrogates in strings,
    nothing a pod's arguments could not be sent on as."""
    try:
        data = loads(request.body or b"")
    except EventDecodeError as exc:
        raise BadRequestError(f"body is not JSON: {exc.message}") from exc
    if not isinstance(data, dict):
        raise BadRequestError("body must be a JSON object, e.g. {\"uses\": \"_logforward\"}; see /docs")
    return data


def body(model: type[BaseModel], *, error: type[BadRequestError] = BadRequestError,
         ) -> Callable[[Handler], Handler]:
    """The JSON body as ``body=model(...)``; a bad one raises ``error`` (a 400). JSON has
    types, so they are kept: ``"replicas": "2"`` or ``"lease": 0`` is a 400, not coerced
    (a query string has only text: its values are converted)."""
    def decorator(func: Handler) -> Handler:
        handler = _wrap(func, lambda request: ("body", _check(model, _json(request), error,
                                                              strict=True)))
        return record(handler, body=model, errors=(400, 413))
    return decorator


def _is_list(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is list


def _args(model: type[BaseModel], request: Request) -> dict[str, Any]:
    """The query string's values by field: every value for a list field, else the first. A
    blank value is a value (``?pod=`` is an empty pod name, refused, not no pod at all)."""
    fields = model.model_fields
    return {key: values if key in fields and _is_list(fields[key]) else values[0]
            for key, values in request.get_args(keep_blank_values=True).items()}


def query(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """The query string as ``query=model(...)``; a bad one is a 400."""
    def decorator(func: Handler) -> Handler:
        handler = _wrap(func, lambda request: ("query", _check(model, _args(model, request),
                                                                BadRequestError)))
        return record(handler, query=model, errors=(400,))
    return decorator
