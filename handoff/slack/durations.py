"""Snooze durations as agents type them (`30m`, `2h`, `tomorrow`), turned into instants."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_SPAN = re.compile(r"^(\d{1,4})\s*(m|min|h|d)$")
MAX_SNOOZE = timedelta(days=14)
MORNING = time(9, 0)


def snooze_until(spec: str, *, now: datetime, timezone: str) -> datetime:
    """`30m`/`2h`/`1d` from now, or `tomorrow` 9:00 in the business time zone (ValueError)."""
    text = spec.strip().lower()
    if text == "tomorrow":
        zone = ZoneInfo(timezone)
        day = now.astimezone(zone).date() + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=zone)
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"not a duration: {spec!r} (use 30m, 2h, 1d or tomorrow)")
    amount, unit = int(match.group(1)), match.group(2)
    span = {"m": timedelta(minutes=amount), "min": timedelta(minutes=amount)}.get(
        unit, timedelta(hours=amount) if unit == "h" else timedelta(days=amount)
    )
    if not timedelta(0) < span <= MAX_SNOOZE:
        raise ValueError("a snooze lasts between 1 minute and 14 days")
    return now + span
