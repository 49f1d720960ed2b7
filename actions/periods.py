"""Turn a canonical period value (last_month, last_30_days, ...) into a date range."""

from __future__ import annotations

import re
from datetime import date, timedelta

DEFAULT_PERIOD = "this_month"
_LAST_N_DAYS = re.compile(r"^last_(\d{1,3})_days$")
MAX_DAYS = 366


def resolve_period(period: str | None, today: date) -> tuple[date, date]:
    """Return the inclusive (first day, last day) of a period relative to `today`.

    Args:
        period: a value of the ``period`` entity; None or unknown means this month.
        today: the customer's local date.

    Returns:
        The first and last day, both inclusive.
    """
    month_start = today.replace(day=1)
    match = _LAST_N_DAYS.match(period or "")
    if match:
        days = min(int(match.group(1)), MAX_DAYS)
        return today - timedelta(days=days - 1), today
    if period == "today":
        return today, today
    if period == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if period == "this_week":
        return today - timedelta(days=today.weekday()), today
    if period == "last_week":
        start = today - timedelta(days=today.weekday() + 7)
        return start, start + timedelta(days=6)
    if period == "last_month":
        last_day = month_start - timedelta(days=1)
        return last_day.replace(day=1), last_day
    return month_start, today
