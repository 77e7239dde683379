"""Argument types shared by the subcommands: they fail as usage errors, before any work."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["json_object", "port", "positive_float", "positive_int"]


def port(text: str) -> int:
    value = _number(text, int, "a port number")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 1-65535")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be greater than 0")
    return value


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg}): {text!r}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value


def _number(text: str, kind: type[Any], what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
