"""Asking the booking calendar about a wanted time: free? if not, why, and what instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.booking import calendar as cal
from crm_core.booking.availability import free_slots, nearest_slots, window_refusal
from crm_core.booking.rules import BookingRules

_VI_DAYS = {"mon": "T2", "tue": "T3", "wed": "T4", "thu": "T5", "fri": "T6", "sat": "T7"}
_VI_DAYS["sun"] = "CN"


@dataclass(frozen=True)
class Verdict:
    """`reason` None: bookable now. Else past, too_soon, too_far, outside_hours, holiday,
    off_grid, taken; `alternatives` are the nearest free starts (UTC)."""

    reason: str | None
    alternatives: list[datetime] = field(default_factory=list)


async def judge(
    session: AsyncSession,
    rules: BookingRules,
    *,
    service_key: str,
    starts_at: datetime,
    now: datetime,
    limit: int,
    ignore_appointment: str | None = None,
) -> Verdict:
    reason = "past" if starts_at <= now else window_refusal(rules, starts_at, now)
    if reason is None:
        service = await cal.active_service(session, service_key)
        calendar = await cal.load(
            session,
            service,
            rules,
            start=starts_at,
            end=starts_at + timedelta(microseconds=1),
            ignore_appointment=ignore_appointment,
        )
        reason = calendar.refusal(starts_at)
        if reason is None and not calendar.free_resources(starts_at):
            reason = "taken"
    if reason is None:
        return Verdict(None)
    around = max(starts_at, now) if reason != "too_far" else now
    return Verdict(reason, await nearest(session, rules, service_key, around, now, limit))


async def nearest(
    session: AsyncSession,
    rules: BookingRules,
    service_key: str,
    around: datetime,
    now: datetime,
    limit: int,
) -> list[datetime]:
    found = await nearest_slots(
        session, service_key=service_key, around=around, rules=rules, limit=limit, now=now
    )
    return [slot.starts_at for slot in found]


async def free_on_day(
    session: AsyncSession,
    rules: BookingRules,
    service_key: str,
    day: date,
    now: datetime,
    limit: int,
) -> list[datetime]:
    """Free starts that day, spread over it (first, ..., last) so morning and evening show."""
    midnight = datetime.combine(day, time(0), tzinfo=rules.zone)
    found = await free_slots(
        session,
        service_key=service_key,
        day_from=midnight,
        day_to=midnight + timedelta(days=1),
        rules=rules,
        now=now,
    )
    starts = [slot.starts_at for slot in found]
    if len(starts) <= limit:
        return starts
    step = (len(starts) - 1) / (limit - 1) if limit > 1 else 0
    return [starts[round(k * step)] for k in range(limit)]


def hours_text(spec: str, language: str) -> str:
    """The BOOKING_HOURS spec for people: "T2-T7 09:00-19:00" / "Mon-Sat 09:00-19:00"."""
    text = spec.strip() or ("cả ngày" if language != "en" else "all day")
    for abbr, vi in _VI_DAYS.items():
        text = text.replace(abbr, abbr.capitalize() if language == "en" else vi)
    return text
