"""Free slots: grid starts inside booking and staff hours, off holidays and time off, clear of
reserved units, between now + lead and the horizon. Reads only; `book` is the guarantee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.booking import calendar as cal
from crm_core.booking.rules import BookingRules
from crm_core.types import utcnow

NEAREST_MAX_DAYS = 14  # how many following days nearest_slots looks through


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # aware UTC
    ends_at: datetime
    staff_id: str | None = None
    staff_name: str | None = None


def _grid(rules: BookingRules, day: date) -> list[datetime]:
    """Every grid start of one local day, in UTC."""
    midnight = datetime.combine(day, time(0), tzinfo=rules.zone)
    count = 24 * 60 // rules.slot_minutes
    return [(midnight + k * rules.slot).astimezone(UTC) for k in range(count)]


def _days(rules: BookingRules, start: datetime, end: datetime) -> list[date]:
    first, last = rules.local(start).date(), rules.local(end).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def window_refusal(rules: BookingRules, starts_at: datetime, now: datetime) -> str | None:
    """Lead time and horizon: the part of bookability that depends on the clock."""
    if starts_at < rules.earliest(now):
        return "too_soon"
    if starts_at > rules.latest(now):
        return "too_far"
    return None


async def free_slots(
    session: AsyncSession,
    *,
    service_key: str,
    day_from: datetime,
    day_to: datetime,
    rules: BookingRules,
    staff_id: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Free starts in [day_from, day_to), one per start time (the first free resource's staff)."""
    now = now or utcnow()
    start = max(day_from, rules.earliest(now))
    end = min(day_to, rules.latest(now) + timedelta(microseconds=1))
    if start >= end:
        return []
    service = await cal.active_service(session, service_key)
    calendar = await cal.load(session, service, rules, start=start, end=end, staff_id=staff_id)
    slots: list[Slot] = []
    for day in _days(rules, start, end):
        for candidate in _grid(rules, day):
            if not start <= candidate < end:
                continue
            free = calendar.free_resources(candidate)
            if free:
                slots.append(
                    Slot(
                        candidate,
                        candidate + calendar.duration,
                        free[0].staff_id,
                        free[0].staff_name,
                    )
                )
                if limit is not None and len(slots) >= limit:
                    return slots
    return slots


async def nearest_slots(
    session: AsyncSession,
    *,
    service_key: str,
    around: datetime,
    rules: BookingRules,
    limit: int = 3,
    staff_id: str | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Alternatives to a wanted time: the closest free starts on the same local day (before or
    after), then the earliest on the following days; ordered by start."""
    day = rules.local(around).date()
    midnight = datetime.combine(day, time(0), tzinfo=rules.zone)
    same_day = await free_slots(
        session,
        service_key=service_key,
        day_from=midnight,
        day_to=midnight + timedelta(days=1),
        rules=rules,
        staff_id=staff_id,
        now=now,
    )
    chosen = sorted(same_day, key=lambda s: (abs(s.starts_at - around), s.starts_at))[:limit]
    if len(chosen) < limit:
        chosen += await free_slots(
            session,
            service_key=service_key,
            day_from=midnight + timedelta(days=1),
            day_to=midnight + timedelta(days=1 + NEAREST_MAX_DAYS),
            rules=rules,
            staff_id=staff_id,
            limit=limit - len(chosen),
            now=now,
        )
    return sorted(chosen, key=lambda s: s.starts_at)


async def is_free(
    session: AsyncSession,
    *,
    service_key: str,
    starts_at: datetime,
    rules: BookingRules,
    staff_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether `book` would find a resource now (a race can still take it before)."""
    slots = await free_slots(
        session,
        service_key=service_key,
        day_from=starts_at,
        day_to=starts_at + timedelta(microseconds=1),
        rules=rules,
        staff_id=staff_id,
        now=now,
    )
    return bool(slots)
