"""Aligned text tables for the ``mesh`` commands: a header row, columns padded to fit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["plural", "table"]


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """``columns`` and ``rows`` as lines of left-aligned cells two spaces apart; ``None`` is ``-``."""
    cells = [[str(c) for c in columns]]
    cells += [["-" if v is None or v == "" else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def plural(count: int, noun: str) -> str:
    """``1 node``, ``2 nodes``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
