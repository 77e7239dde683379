"""Write the JSON Schemas in ``schemas/`` from the pydantic models, or check they are current.

``python -m mesh.schemas`` rewrites them; ``python -m mesh.schemas --check`` exits 1 and
names every file that differs from what the models produce.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from mesh.flow.spec import FlowDocument

__all__ = [
    "EVENTS_MODULE",
    "SCHEMA_DIR",
    "event_models",
    "expected_schemas",
    "main",
    "schema_drift",
    "schema_text",
    "write_schemas",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
EVENTS_MODULE = "mesh.events.models"
_EVENTS_DIR = "events"


def schema_text(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _events_module() -> ModuleType | None:
    try:
        return importlib.import_module(EVENTS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in (EVENTS_MODULE, EVENTS_MODULE.rpartition(".")[0]):
            return None
        raise


def event_models(module: ModuleType) -> list[type[BaseModel]]:
    """Every pydantic model class defined in ``module`` (not the ones it imports)."""
    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseModel) and obj is not BaseModel and obj.__module__ == module.__name__
    ]
    return sorted(found, key=lambda cls: cls.__name__)


def expected_schemas() -> dict[str, str]:
    """Schema file path (relative to ``schemas/``) -> the text the models produce now."""
    out = {"flow.json": schema_text(FlowDocument)}
    module = _events_module()
    if module is not None:
        for model in event_models(module):
            out[f"{_EVENTS_DIR}/{model.__name__}.json"] = schema_text(model)
    return out


def schema_drift(root: Path = SCHEMA_DIR) -> list[str]:
    """One line per file that is missing, differs, or is no longer produced."""
    expected = expected_schemas()
    problems = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    for path in _stale(root, expected):
        problems.append(f"{path}: no model produces it any more")
    return problems


def _stale(root: Path, expected: dict[str, Any]) -> list[Path]:
    events = root / _EVENTS_DIR
    if not events.is_dir():
        return []
    return [p for p in sorted(events.glob("*.json")) if f"{_EVENTS_DIR}/{p.name}" not in expected]


def write_schemas(root: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema that changed and remove stale event schemas; returns what changed."""
    expected = expected_schemas()
    changed = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in _stale(root, expected):
        path.unlink()
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mesh.schemas", description="Write or check the JSON Schemas in schemas/."
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if any schema file is out of date"
    )
    parser.add_argument(
        "--dir", type=Path, default=SCHEMA_DIR, help=f"schema folder (default {SCHEMA_DIR})"
    )
    args = parser.parse_args(argv)
    if args.check:
        drift = schema_drift(args.dir)
        for line in drift:
            print(line)
        if drift:
            print("run `python -m mesh.schemas` to regenerate them")
            return 1
        print(f"schemas in {args.dir} are up to date")
        return 0
    for path in write_schemas(args.dir):
        print(f"wrote {path}" if path.exists() else f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
