"""Weekly opening hours ("mon-fri 08:00-18:00; sat 08:00-12:00"), shared by the handoff's
business hours and the booking calendar (staff hours, booking hours)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^\s*(\w{3})(?:\s*-\s*(\w{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$"
)


@dataclass(frozen=True)
class BusinessHours:
    """Opening windows per weekday (0 = Monday) in one time zone."""

    windows: dict[int, tuple[time, time]]
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, *, timezone: str) -> BusinessHours:
        """`mon-fri 08:00-18:00; sat 08:00-12:00`; an empty spec means always open."""
        windows: dict[int, tuple[time, time]] = {}
        for part in filter(str.strip, spec.split(";")):
            match = _PART.match(part.lower())
            if match is None or match.group(1) not in DAYS:
                raise ValueError(f"cannot read business hours {part.strip()!r}")
            first = DAYS.index(match.group(1))
            last = DAYS.index(match.group(2)) if match.group(2) in DAYS else first
            start = time(int(match.group(3)), int(match.group(4)))
            end = time(int(match.group(5)), int(match.group(6)))
            for day in range(first, last + 1):
                windows[day] = (start, end)
        return cls(windows=windows, zone=ZoneInfo(timezone))

    def window_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The local opening window of one date; an empty spec is open the whole day."""
        if not self.windows:
            start = datetime.combine(day, time(0), tzinfo=self.zone)
            return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        window = self.windows.get(day.weekday())
        if window is None:
            return None
        return (
            datetime.combine(day, window[0], tzinfo=self.zone),
            datetime.combine(day, window[1], tzinfo=self.zone),
        )

    def is_open(self, at: datetime) -> bool:
        if not self.windows:
            return True
        local = at.astimezone(self.zone)
        window = self.windows.get(local.weekday())
        return window is not None and window[0] <= local.time() < window[1]

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment agents are in (local time), or None when always open."""
        if not self.windows or self.is_open(at):
            return None
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            window = self.windows.get(day.weekday())
            if window is None:
                continue
            opening = datetime.combine(day, window[0], tzinfo=self.zone)
            if opening > local:
                return opening
        return None
