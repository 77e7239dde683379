"""Bytes <-> event models. The only module that calls orjson for events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from mesh.events.errors import EventDecodeError

__all__ = ["EventDecodeError", "decode", "decode_one_of", "dumps", "encode", "loads"]

M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    """JSON bytes of a model (every field, including the ``type`` default)."""
    return orjson.dumps(model.model_dump(mode="json"))


def dumps(obj: Any) -> bytes:
    """JSON bytes of a plain JSON-able value (dicts in KV, opaque configs)."""
    try:
        return orjson.dumps(obj)
    except TypeError as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from exc


def loads(data: bytes) -> Any:
    """A plain value from JSON bytes; EventDecodeError if they are not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(
            f"payload is not valid JSON ({exc}): {_preview(data)}", detail={"payload": _preview(data)}
        ) from exc


def decode(data: bytes, model_cls: type[M]) -> M:
    """A ``model_cls`` from JSON bytes; EventDecodeError on bad JSON or a payload that does not fit."""
    return _validate(loads(data), model_cls, data)


def decode_one_of(data: bytes, model_classes: Sequence[type[BaseModel]]) -> BaseModel:
    """Decode into whichever of ``model_classes`` has the payload's ``type`` literal."""
    obj = loads(data)
    kind = obj.get("type") if isinstance(obj, dict) else None
    for cls in model_classes:
        if _type_of(cls) == kind:
            return _validate(obj, cls, data)
    names = [_type_of(cls) for cls in model_classes]
    raise EventDecodeError(
        f"payload type {kind!r} is none of {names}: {_preview(data)}", detail={"type": kind}
    )


def _validate(obj: Any, model_cls: type[M], data: bytes) -> M:
    try:
        return model_cls.model_validate(obj)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)[:5]
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors)
        raise EventDecodeError(
            f"payload is not a valid {model_cls.__name__} ({problems}): {_preview(data)}",
            detail={"model": model_cls.__name__, "errors": errors},
        ) from exc


def _type_of(model_cls: type[BaseModel]) -> Any:
    field = model_cls.model_fields.get("type")
    return field.default if field is not None else None


def _preview(data: bytes, limit: int = 200) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("..." if len(data) > limit else "")
