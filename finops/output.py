"""Rows as a readable table (default), CSV or JSON; progress on stderr."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TextIO


class Format(StrEnum):
    """Output formats of every command."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class Column:
    """One output column: `key` in each row, `header` in the table, `places` for money in the table."""

    key: str
    header: str
    places: int | None = None


def _text(value: Any, places: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | float) and places is not None:
        return f"{Decimal(str(value)):,.{places}f}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: Format,
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The rows in `fmt`. JSON: {"rows": [...], "notes": [...]}; CSV: header + rows (notes omitted)."""
    if fmt is Format.JSON:
        document: dict[str, Any] = {
            "rows": [{c.key: _json_value(r.get(c.key)) for c in columns} for r in rows]
        }
        if title:
            document["title"] = title
        document["notes"] = list(notes)
        return json.dumps(document, indent=2)
    if fmt is Format.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        for row in rows:
            writer.writerow([_csv_text(row.get(c.key)) for c in columns])
        return buffer.getvalue().rstrip("\n")
    cells = [[_text(row.get(c.key), c.places) for c in columns] for row in rows]
    widths = [max([len(c.header)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    numeric = [any(_is_number(row.get(c.key)) for row in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out.append(line([c.header for c in columns]))
    out.append("  ".join("-" * w for w in widths))
    out += [line(c) for c in cells]
    if not rows:
        out.append("(no rows)")
    out += notes
    return "\n".join(out)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Exact: a Decimal with more digits than a float holds is written as a string.
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else format(value, "f")
    return value


class Progress:
    """`label: n/total` on stderr, overwritten in place on a terminal; silent when quiet."""

    def __init__(self, *, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def update(self, message: str) -> None:
        """Report progress of long work."""
        if self._quiet:
            return
        if self._tty:
            self._stream.write("\r\033[K" + message)
        else:
            self._stream.write(message + "\n")
        self._stream.flush()

    def done(self) -> None:
        """End the progress line."""
        if self._tty and not self._quiet:
            self._stream.write("\r\033[K")
            self._stream.flush()
