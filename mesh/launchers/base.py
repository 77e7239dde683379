"""The launcher contract: what every way of running a Pea (a process, a container) offers.

A ``PeaHandle`` is made for one Pea config, started once, and stopped once. Its owner
learns of its end through ``on_exit``, called once from the handle's own log thread when
the Pea's output ends and its exit code is known, whether the Pea crashed or was stopped
(``ExitInfo.expected`` tells which). Readiness is the Pea's control socket answering
(:func:`mesh.launchers.ready.wait_all_ready`), the same for every launcher.
"""

from __future__ import annotations

import collections
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mesh.errors import PeaStartError

__all__ = ["ExitInfo", "ExitCallback", "LineSink", "LogTail", "PeaHandle", "start_error"]

logger = logging.getLogger(__name__)

LineSink = Callable[[str], None]
_TAIL = 40
_SHOWN = 10  # log lines an error message quotes


@dataclass(frozen=True)
class ExitInfo:
    """How a Pea ended: its exit code, its last log lines, and whether it was asked to."""

    code: int | None
    tail: list[str] = field(default_factory=list)
    expected: bool = False


ExitCallback = Callable[["PeaHandle", ExitInfo], None]


@runtime_checkable
class PeaHandle(Protocol):
    """One Pea, however it runs. ``stop`` and ``kill`` never raise."""

    name: str
    port_ctrl: int
    on_exit: ExitCallback | None

    @property
    def pid(self) -> int | None:
        """The process id on this machine, when the Pea is a process of it."""

    @property
    def returncode(self) -> int | None:
        """None while the Pea runs (or has not started), else its exit code."""

    @property
    def tail(self) -> list[str]:
        """Its last log lines."""

    def start(self) -> None:
        """Start it, or raise a MeshError saying why it could not be started."""

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM), without waiting."""

    def stop(self, grace_s: float) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; wait for its end."""

    def kill(self) -> None:
        """SIGKILL at once and wait for its end."""

    def exit_info(self) -> ExitInfo:
        """Its exit code and last log lines (``code`` None while it runs)."""

    def start_error(self, what: str) -> PeaStartError:
        """A PeaStartError for ``what`` went wrong, with its exit code and last log lines."""


def _stderr_sink(line: str) -> None:
    sys.stderr.write(line + "\n")


class LogTail:
    """A Pea's output: each line goes to ``sink`` and the last lines are kept."""

    def __init__(self, name: str, sink: LineSink | None = None) -> None:
        self.name = name
        self.sink = sink or _stderr_sink
        self.lines: collections.deque[str] = collections.deque(maxlen=_TAIL)

    def line(self, text: str) -> None:
        self.lines.append(text)
        try:
            self.sink(text)
        except Exception:  # noqa: BLE001 - a broken sink must not stop the draining of output
            logger.exception("log sink for %s failed", self.name)

    def last(self, n: int = _SHOWN) -> list[str]:
        return list(self.lines)[-n:]


def start_error(name: str, what: str, *, code: int | None, tail: list[str]) -> PeaStartError:
    """``<pea> <what>; last log lines: ...`` with the exit code and lines in its detail."""
    lines = tail[-_SHOWN:]
    text = "\n".join(lines)
    return PeaStartError(f"{name} {what}" + (f"; last log lines:\n{text}" if lines else ""),
                         detail={"pea": name, "exit_code": code, "log_tail": lines})
