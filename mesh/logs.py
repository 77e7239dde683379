"""The one log line format: ``pod0@12345[I]:message``, and its parser."""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

__all__ = ["LEVEL_CHARS", "StreamToLogger", "parse_line", "setup_pea_logging"]

LEVEL_CHARS = {"D": "DEBUG", "I": "INFO", "S": "SUCCESS", "W": "WARNING", "E": "ERROR", "C": "CRITICAL"}
_CHAR_OF = {v: k for k, v in LEVEL_CHARS.items()}
_LINE = re.compile(r"^(?P<globe>🌏 )?(?P<pea>[^\s@]+)@(?P<pid>\d+)\[(?P<lvl>[DISWEC])\]:(?P<msg>.*)$")


class _Format(logging.Formatter):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def format(self, record: logging.LogRecord) -> str:
        char = _CHAR_OF.get(record.levelname, "I")
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return "\n".join(f"{self.name}@{record.process}[{char}]:{line}" for line in text.splitlines() or [""])


def setup_pea_logging(name: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Format(name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def parse_line(line: str) -> dict[str, Any] | None:
    """``{"pea", "pid", "level", "message"}`` of a formatted line, or None."""
    m = _LINE.match(line)
    if not m:
        return None
    return {"pea": m["pea"], "pid": int(m["pid"]), "level": LEVEL_CHARS[m["lvl"]], "message": m["msg"]}


class StreamToLogger:
    """Stands in for ``sys.stdout`` so that prints become log lines."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self._logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._buf:
            self._logger.info("%s", self._buf)
            self._buf = ""

    def isatty(self) -> bool:
        return False


def console_logger(name: str, level: str = "INFO") -> logging.Logger:
    """A logger for the user's own process that prints ``Name@pid[I]:...`` to stderr."""
    logger = logging.getLogger(f"mesh.console.{name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Format(name))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())
    return logger
