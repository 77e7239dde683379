"""The Executor base class and the ``@requests`` decorator."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

__all__ = ["DEFAULT_ENDPOINT", "Executor", "requests"]

DEFAULT_ENDPOINT = "__default__"
_MARK = "_mesh_endpoints"
_DOC_ARGS = frozenset({"docs", "docs_matrix"})

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requests(func: F) -> F: ...
@overload
def requests(*, on: str | Iterable[str] | None = None) -> Callable[[F], F]: ...


def requests(func: Any = None, *, on: str | Iterable[str] | None = None) -> Any:
    """Bind an Executor method to endpoints; bare ``@requests`` binds it to every endpoint."""

    def mark(fn: F) -> F:
        endpoints = [DEFAULT_ENDPOINT] if on is None else [on] if isinstance(on, str) else list(on)
        setattr(fn, _MARK, endpoints)
        return fn

    return mark(func) if callable(func) else mark


class Handler:
    """An Executor method bound to endpoints, with what it asks for precomputed."""

    __slots__ = ("name", "params", "var_kw", "wants_docs")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        sig = inspect.signature(fn)
        self.name = name
        self.params = frozenset(p for p in sig.parameters if p != "self")
        self.var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        self.wants_docs = self.var_kw or bool(self.params & _DOC_ARGS)

    def kwargs(self, available: dict[str, Any]) -> dict[str, Any]:
        if self.var_kw:
            return available
        return {k: v for k, v in available.items() if k in self.params}


class Executor:
    """Subclass this and bind methods with ``@requests(on='/index')``.

    A bound method may take any of ``docs``, ``parameters``, ``docs_matrix``,
    ``endpoint`` and ``request``. It changes ``docs`` in place and returns
    ``None``, or returns new Documents to replace them. A method that asks for
    neither ``docs`` nor ``docs_matrix`` leaves the Documents undecoded.
    """

    _handlers: dict[str, Handler] = {}
    metas: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, Handler] = {}
        for klass in reversed(cls.__mro__):
            for name, fn in vars(klass).items():
                for endpoint in getattr(fn, _MARK, ()):
                    handlers[endpoint] = Handler(name, fn)
        cls._handlers = handlers

    def __init__(self, *, metas: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {names}")
        self.metas = dict(metas or {})

    def handler_for(self, endpoint: str) -> Handler | None:
        return self._handlers.get(endpoint) or self._handlers.get(DEFAULT_ENDPOINT)

    def close(self) -> None:
        """Called once when the Pea stops; release resources here."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} endpoints={sorted(self._handlers)}>"
