"""Pieces the booking and rescheduling dialogues share: reading times, offering slots."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from conversations.flows import slots as cal
from conversations.flows.base import FlowContext, FlowState
from conversations.flows.timefmt import day_text, slots_text, when_text
from conversations.flows.words import number
from crm_core.models import ContactPoint

# How a refusal from the calendar is told (template names in templates.yml).
REFUSAL_TEMPLATES = {
    "past": "past_time",
    "too_soon": "too_soon",
    "too_far": "too_far",
    "outside_hours": "out_of_hours",
    "holiday": "closed_day",
    "off_grid": "unavailable",
    "staff_unavailable": "unavailable",
    "taken": "slot_taken",
}
TIME_GRAINS = ("hour", "minute", "second")


def iso(at: datetime) -> str:
    return at.isoformat()


def when(ctx: FlowContext, at: datetime) -> str:
    return when_text(at, ctx.rules.zone, ctx.language)


def read_times(ctx: FlowContext, state: FlowState) -> list[tuple[datetime, str]]:
    """The message's distinct datetimes (aware) with their grain; a bare time ("10h") is put on
    the day already chosen, since the NLU puts it on today or tomorrow."""
    found: list[tuple[datetime, str]] = []
    for entity in ctx.entities("datetime"):
        try:
            at = datetime.fromisoformat(str(entity.get("value")))
        except ValueError:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=ctx.rules.zone)
        grain = str((entity.get("additional_info") or {}).get("grain") or "hour")
        if grain in TIME_GRAINS and state.slots.get("day"):
            at = _on_chosen_day(ctx, at, date.fromisoformat(state.slots["day"]))
        if all(at != seen for seen, _ in found):
            found.append((at, grain))
    return found


def _on_chosen_day(ctx: FlowContext, at: datetime, day: date) -> datetime:
    local = at.astimezone(ctx.rules.zone)
    now = ctx.now.astimezone(ctx.rules.zone)
    bare = now.date() if local.time() > now.time() else now.date() + timedelta(days=1)
    if local.date() != bare:
        return at  # the customer named a day of their own
    return local.replace(year=day.year, month=day.month, day=day.day)


def picked(ctx: FlowContext, options: list[str]) -> datetime | None:
    """A numbered choice ("2") among offered times."""
    chosen = number(ctx.text)
    if chosen is None or not 1 <= chosen <= len(options):
        return None
    return datetime.fromisoformat(options[chosen - 1])


def offer(ctx: FlowContext, state: FlowState, starts: list[datetime]) -> None:
    state.slots["offered"] = [iso(s) for s in starts]


def slots_line(ctx: FlowContext, starts: list[datetime]) -> str:
    return slots_text(starts, ctx.rules.zone, ctx.language)


async def ask_time_on(ctx: FlowContext, state: FlowState, service_key: str, day: date) -> str:
    """The free times of that day, or the nearest ones when it is full or closed."""
    rules = ctx.rules.booking
    free = await cal.free_on_day(
        ctx.session, rules, service_key, day, ctx.now, ctx.rules.slots_offered
    )
    state.slots["day"] = day.isoformat()
    if free:
        offer(ctx, state, free)
        return ctx.say("ask_time", day=day_text(day, ctx.language), slots=slots_line(ctx, free))
    morning = datetime.combine(day, datetime.min.time(), tzinfo=rules.zone)
    nearest = await cal.nearest(ctx.session, rules, service_key, morning, ctx.now, 3)
    offer(ctx, state, nearest)
    if not nearest:
        return ctx.say("no_slots")
    return ctx.say("day_full", day=day_text(day, ctx.language), slots=slots_line(ctx, nearest))


def refusal_text(ctx: FlowContext, reason: str, at: datetime, alternatives: list[datetime]) -> str:
    """Why the time cannot be booked, with what can."""
    if not alternatives:
        return ctx.say("no_slots")
    rules = ctx.rules.booking
    values: dict[str, Any] = {
        "when": when(ctx, at),
        "slots": slots_line(ctx, alternatives),
        "lead": rules.lead_minutes,
        "horizon": rules.horizon_days,
        "hours": cal.hours_text(ctx.rules.booking_hours, ctx.language),
    }
    return ctx.say(REFUSAL_TEMPLATES.get(reason, "unavailable"), **values)


async def has_contact(ctx: FlowContext) -> bool:
    stmt = select(ContactPoint.id).where(ContactPoint.customer_id == ctx.customer.id).limit(1)
    return (await ctx.session.execute(stmt)).first() is not None


async def contact_of(ctx: FlowContext) -> str | None:
    """The customer's phone (preferred) or e-mail, for a ticket's "how to reach them"."""
    stmt = select(ContactPoint.kind, ContactPoint.value).where(
        ContactPoint.customer_id == ctx.customer.id
    )
    points = sorted((await ctx.session.execute(stmt)).all(), key=lambda p: p[0] != "phone")
    return points[0][1] if points else None
