"""Billing periods: UTC calendar months and date ranges (end exclusive, as Cost Explorer takes them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from finops.errors import CliError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """[start, end): whole UTC days."""

    start: date
    end: date

    def months(self) -> list[str]:
        """Every `YYYY-MM` the period touches, oldest first."""
        out, cursor = [], self.start.replace(day=1)
        while cursor < self.end:
            out.append(cursor.strftime("%Y-%m"))
            cursor = next_month(cursor)
        return out

    def clamp(self, today: date) -> Period:
        """The part of the period up to and including `today` (Cost Explorer has nothing later)."""
        end = min(self.end, today + timedelta(days=1))
        if end <= self.start:
            raise CliError(f"the period starting {self.start} has not begun yet (today is {today} UTC)")
        return Period(self.start, end)

    def __str__(self) -> str:
        return f"{self.start} to {self.end - timedelta(days=1)}"


def next_month(day: date) -> date:
    """First day of the month after `day`'s."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def month_period(month: str) -> Period:
    """A whole `YYYY-MM` month."""
    if not MONTH_RE.match(month):
        raise CliError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11")
    start = date(int(month[:4]), int(month[5:]), 1)
    return Period(start, next_month(start))


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag} {value!r}: expected a date YYYY-MM-DD") from None


def parse_period(*, month: str | None, start: str | None, end: str | None, today: date) -> Period:
    """`--month`, or `--start`/`--end` (inclusive days), or the current month; clamped to today."""
    if month and (start or end):
        raise CliError("give either --month or --start/--end, not both")
    if month:
        return month_period(month).clamp(today)
    if start or end:
        if not (start and end):
            raise CliError("--start and --end go together")
        first, last = _day(start, "--start"), _day(end, "--end")
        if last < first:
            raise CliError(f"--end {last} is before --start {first}")
        return Period(first, last + timedelta(days=1)).clamp(today)
    return month_period(today.strftime("%Y-%m")).clamp(today)


def utc_today(now: datetime | None = None) -> date:
    """Today's date in UTC (billing days are UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()
