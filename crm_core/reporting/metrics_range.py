"""The date range and channel of a metrics request, read the same way by the API and the console.

A bare date is a whole local day (`to` includes it); an ISO datetime is an exact instant (local
time when it carries no offset). Without `from`, the range is the last 30 local days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_core.enums import Channel
from crm_core.types import utcnow

DEFAULT_DAYS = 30


class RangeError(ValueError):
    """A `from`, `to` or `channel` the metrics cannot use; the message starts with the field.

    `reason` is one of "format", "order", "channel", for callers that word it themselves.
    """

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class MetricsRange:
    """[start, end) as aware instants, and the channel (None: every channel)."""

    start: datetime
    end: datetime
    channel: str | None = None


def _bound(value: str, name: str, zone: ZoneInfo, *, upper: bool) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=upper), time(), zone)
        instant = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise RangeError(name, "format", "expected YYYY-MM-DD or an ISO 8601 datetime") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=zone)


def resolve_range(start: str | None, end: str | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) instants; the default is the last 30 local days, today included."""
    today = utcnow().astimezone(zone).date()
    upper = _bound(end or today.isoformat(), "to", zone, upper=True)
    if start:
        lower = _bound(start, "from", zone, upper=False)
    else:
        first = upper.astimezone(zone).date() - timedelta(days=DEFAULT_DAYS)
        lower = datetime.combine(first, time(), zone)
    if lower > upper:
        raise RangeError("from", "order", "must not be after to")
    return lower, upper


def check_channel(channel: str | None) -> str | None:
    """The channel unchanged when it is one of ours (or None); RangeError otherwise."""
    if channel is not None and channel not in set(Channel):
        known = ", ".join(Channel)
        raise RangeError("channel", "channel", f"unknown channel (one of {known})")
    return channel


def parse_request(
    start: str | None, end: str | None, channel: str | None, zone: ZoneInfo
) -> MetricsRange:
    """Everything a metrics request asks for, checked: channel first, then the range."""
    checked = check_channel(channel)
    lower, upper = resolve_range(start, end, zone)
    return MetricsRange(lower, upper, checked)
