"""Loaded by file path through ``metas: py_modules`` of ../suffix.yml, not as a package module."""

from typing import Any

from mesh import DocumentArray, Executor, requests


class Suffix(Executor):
    def __init__(self, suffix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    def add(self, docs: DocumentArray) -> None:
        for d in docs:
            d.text += self.suffix
