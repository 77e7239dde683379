"""``jinad`` flags, generated from :class:`Settings`: ``--field-name`` per field, its
description as help. Precedence: a flag, then ``JINAD_FIELD_NAME``, then the default."""

from __future__ import annotations

import argparse
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from mesh import __version__
from mesh.daemon.settings import Settings

__all__ = ["Flag", "build_parser", "flag_table", "flags", "load_settings"]

DESCRIPTION = ("The jinad mesh daemon: runs Pods for Flows, joins the mesh over NATS, serves "
               "the HTTP edge.")


@dataclass(frozen=True)
class Flag:
    """One Settings field as the command line and the environment spell it."""

    field: str
    flag: str
    env: str
    default: str
    help: str


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None or info.default is None:
        return ""
    value = info.default
    if isinstance(value, Path):
        home = Path.home()
        return f"~/{value.relative_to(home)}" if value.is_relative_to(home) else str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def flags() -> list[Flag]:
    """Every field of Settings, in its order."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return [Flag(field=name, flag="--" + name.replace("_", "-"), env=prefix + name.upper(),
                 default=_default(info), help=info.description or "")
            for name, info in Settings.model_fields.items()]


def _is_mapping(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is dict


def _kind(name: str, info: FieldInfo) -> dict[str, Any]:
    """How argparse reads the field: ``K=V...`` for a mapping, several values for a list, no
    value for a switch (``--insecure``), else one value."""
    if _is_mapping(info):
        return {"nargs": "*", "metavar": "K=V"}
    if typing.get_origin(info.annotation) is list:
        return {"nargs": "+", "metavar": "PATTERN"}
    if info.annotation is bool:
        return {"action": "store_const", "const": True}
    return {"metavar": _metavar(name, info)}


def _metavar(name: str, info: FieldInfo) -> str:
    args = typing.get_args(info.annotation) or (info.annotation,)
    if typing.get_origin(info.annotation) is typing.Literal:
        return "{" + ",".join(map(str, args)) + "}"
    if name.endswith("_s"):
        return "SECONDS"
    if name.endswith(("_cert", "_key", "_keys")):
        return "FILE"
    kinds = {int: "N", float: "NUMBER", Path: "DIR"}
    return next((kinds[a] for a in args if a in kinds), "TEXT")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, no usage block: ``jinad: error: ...``, exit code 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jinad", description=DESCRIPTION, argument_default=argparse.SUPPRESS)
    for f in flags():
        info = Settings.model_fields[f.field]
        shown = f"default: {f.default}; " if f.default else ""
        p.add_argument(f.flag, dest=f.field, help=f"{f.help} ({shown}env {f.env})",
                       **_kind(f.field, info))
    p.add_argument("--version", action="version", version=__version__,
                   help="print the version and exit")
    return p


def _pairs(flag: str, items: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"argument {flag}: {item!r} must look like key=value")
        out[key] = value
    return out


def load_settings(argv: list[str] | None = None) -> Settings:
    """Settings from ``argv`` (flags given), ``JINAD_*`` and the defaults; a bad value ends
    the process with one ``jinad: error: ...`` line and exit code 2."""
    parser = build_parser()
    given = vars(parser.parse_args(sys.argv[1:] if argv is None else argv))
    by_field = {f.field: f for f in flags()}
    for name, value in given.items():
        if _is_mapping(Settings.model_fields[name]):
            given[name] = _pairs(by_field[name].flag, value, parser)
    try:
        return Settings(**given)
    except ValidationError as exc:
        parser.error("; ".join(_problem(e, by_field) for e in exc.errors()))


def _problem(error: Any, by_field: dict[str, Flag]) -> str:
    loc = [str(part) for part in error["loc"]]
    f = by_field.get(loc[0]) if loc else None
    where = f"{f.flag} ({f.env})" if f is not None else ".".join(loc) or "settings"
    return f"{where}: {error['msg']}"


def flag_table() -> str:
    """The README's table of flags: the same names and words as ``jinad --help``."""
    rows = ["| flag | env | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{f.flag}` | `{f.env}` | {f'`{f.default}`' if f.default else ''} | {f.help} |"
             for f in flags()]
    rows.append("| `--version` | | | print the version and exit |")
    return "\n".join(rows) + "\n"
