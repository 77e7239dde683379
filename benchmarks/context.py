"""What every benchmark gets: the mode, the report, a scratch folder, and shared nodes."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from benchmarks.report import Report

if TYPE_CHECKING:
    from tests.fixtures.jinad import JinadNode

__all__ = ["Context"]

T = TypeVar("T")


class Context:
    def __init__(self, *, quick: bool, report: Report, tmp: Path, stack: ExitStack) -> None:
        self.quick = quick
        self.report = report
        self.tmp = tmp
        self.stack = stack
        self._jinad: JinadNode | None = None
        self._jinad_error: Exception | None = None
        self.jinad_flows = 0  # flows created on the shared jinad so far

    def pick(self, full: T, quick: T) -> T:
        """The full-mode or the quick-mode size of something."""
        return quick if self.quick else full

    def jinad(self) -> JinadNode:
        """One jinad on 127.0.0.1 with its embedded nats-server, started on first use and
        stopped when the run ends."""
        if self._jinad_error is not None:
            raise RuntimeError(f"the shared jinad did not start: {self._jinad_error}")
        if self._jinad is None:
            from benchmarks.nodes import start_node, stop_node

            try:
                node = start_node(self.tmp, name="bench")
            except Exception as exc:
                self._jinad_error = exc
                raise
            self.stack.callback(stop_node, node)
            self._jinad = node
        return self._jinad
