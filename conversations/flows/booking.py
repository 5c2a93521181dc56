"""The booking dialogue: service → day/time → name → phone or e-mail → summary → explicit yes."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select

from conversations.flows import common
from conversations.flows import slots as cal
from conversations.flows.base import (
    Applied,
    Book,
    Effect,
    FlowContext,
    FlowState,
    SaveContact,
    Step,
)
from conversations.flows.timefmt import price_text
from conversations.flows.words import is_no, is_yes, number, plain
from crm_core.booking.errors import NotBookable, SlotTaken
from crm_core.models import Service

NAME = "booking"


class S(StrEnum):
    SERVICE = "service"  # the catalogue was shown
    WHEN = "when"  # asked for a day and time (or which of two)
    TIME = "time"  # a day is known; free times were offered
    NAME = "name"
    CONTACT = "contact"
    CONFIRM = "confirm"  # the summary was shown; only an explicit yes books
    CHANGE = "change"  # "no" to the summary: what to change?


_NAME_PREFIX = re.compile(
    r"^(?:(?:ten|tên)\s+(?:minh|mình|toi|tôi|em|anh|chi|chị)\s+(?:la|là)\s+"
    r"|(?:minh|mình|toi|tôi|em|anh|chi|chị)\s+(?:ten|tên)(?:\s+(?:la|là))?\s+"
    r"|my name is\s+|i am\s+|i'm\s+|it's\s+|name:\s*)",
    re.IGNORECASE,
)


class BookingFlow:
    """Slot filling over several turns; the engine applies the booking in its transaction."""

    name = NAME

    async def start(self, ctx: FlowContext) -> Step:
        state = FlowState(NAME, S.SERVICE.value, {})
        return await self._fill(ctx, state)

    async def step(self, ctx: FlowContext, state: FlowState) -> Step:
        if state.state == S.CONFIRM:
            return await self._confirm(ctx, state)
        if state.state == S.CHANGE:
            return await self._change(ctx, state)
        return await self._fill(ctx, state)

    async def after(self, ctx: FlowContext, step: Step, applied: list[Applied]) -> Step:
        """Told the outcome of the booking: confirmed, or sorry and the nearest free times."""
        booked = [a for a in applied if isinstance(a.effect, Book)]
        if not booked:
            return step
        outcome = booked[0]
        state = step.state or FlowState(NAME, S.CONFIRM.value, {})
        if outcome.error is None:
            appointment = outcome.result
            service = await ctx.session.get(Service, appointment.service_id)
            text = ctx.say(
                "booked",
                service=_service_name(service, ctx.language),
                when=common.when(ctx, appointment.starts_at),
            )
            return Step([text], None, step.effects)
        wanted = datetime.fromisoformat(state.slots["starts_at"])
        state.slots.pop("starts_at", None)
        if isinstance(outcome.result, SlotTaken):
            alternatives = [slot.starts_at for slot in outcome.result.alternatives]
            reason = "taken"
        else:
            reason = outcome.result.reason if isinstance(outcome.result, NotBookable) else ""
            alternatives = await cal.nearest(
                ctx.session, ctx.rules.booking, state.slots["service"], wanted, ctx.now, 3
            )
        common.offer(ctx, state, alternatives)
        state.state = S.TIME.value
        return Step([common.refusal_text(ctx, reason, wanted, alternatives)], state, step.effects)

    async def _fill(self, ctx: FlowContext, state: FlowState) -> Step:
        effects: list[Effect] = []
        asked = await self._absorb(ctx, state, effects)
        if asked is not None:
            return asked
        return await self._next(ctx, state, effects)

    async def _absorb(
        self, ctx: FlowContext, state: FlowState, effects: list[Effect]
    ) -> Step | None:
        """Take what the message gives: service, time (or a pick), name, phone, e-mail."""
        slots = state.slots
        service = await self._service(ctx, state)
        if service is not None and service != slots.get("service"):
            slots["service"] = service
        phone, email = ctx.entity("phone"), ctx.entity("email")
        if phone or email:
            effects.append(SaveContact(phone=phone, email=email))
            slots["contact"] = phone or email
        if state.state == S.NAME and not (phone or email):
            name = _name_in(ctx.text)
            if name:
                effects.append(SaveContact(name=name))
                slots["name"] = name
        times = common.read_times(ctx, state)
        if len(times) >= 2:
            slots["choices"] = [common.iso(at) for at, _ in times[:2]]
            state.state = S.WHEN.value
            first, second = (common.when(ctx, at) for at, _ in times[:2])
            return Step([ctx.say("which_time", first=first, second=second)], state, effects)
        if not times:
            chosen = common.picked(ctx, slots.get("choices") or slots.get("offered") or [])
            if chosen is not None and state.state in (S.WHEN, S.TIME):
                times = [(chosen, "minute")]
        if times:
            at, grain = times[0]
            slots.pop("choices", None)
            slots["day"] = at.astimezone(ctx.rules.zone).date().isoformat()
            if grain in common.TIME_GRAINS:
                slots["starts_at"] = common.iso(at)
            else:
                slots.pop("starts_at", None)
        return None

    async def _service(self, ctx: FlowContext, state: FlowState) -> str | None:
        """A service named in the message, or picked by its number from the catalogue."""
        key = ctx.entity("service")
        if key and await ctx.session.scalar(
            select(Service.key).where(Service.key == key, Service.active)
        ):
            return str(key)
        catalogue = state.slots.get("catalogue") or []
        chosen = number(ctx.text) if state.state == S.SERVICE else None
        if chosen is not None and 1 <= chosen <= len(catalogue):
            return str(catalogue[chosen - 1])
        return None

    async def _next(self, ctx: FlowContext, state: FlowState, effects: list[Effect]) -> Step:
        """Ask for the first missing piece, or show the summary."""
        slots = state.slots
        if not slots.get("service"):
            return await self._ask_service(ctx, state, effects)
        service_key = slots["service"]
        if not slots.get("starts_at"):
            if slots.get("day"):
                day = date.fromisoformat(slots["day"])
                text = await common.ask_time_on(ctx, state, service_key, day)
                state.state = S.TIME.value
                return Step([text], state, effects, offer_human=not slots.get("offered"))
            state.state = S.WHEN.value
            service = await _service_row(ctx, service_key)
            return Step(
                [ctx.say("ask_date", service=_service_name(service, ctx.language))], state, effects
            )
        wanted = datetime.fromisoformat(slots["starts_at"])
        verdict = await cal.judge(
            ctx.session,
            ctx.rules.booking,
            service_key=service_key,
            starts_at=wanted,
            now=ctx.now,
            limit=ctx.rules.slots_offered,
        )
        if verdict.reason is not None:
            slots.pop("starts_at", None)
            common.offer(ctx, state, verdict.alternatives)
            state.state = S.TIME.value
            text = common.refusal_text(ctx, verdict.reason, wanted, verdict.alternatives)
            return Step([text], state, effects, offer_human=not verdict.alternatives)
        if not ctx.customer.name and not slots.get("name"):
            state.state = S.NAME.value
            return Step([ctx.say("ask_name")], state, effects)
        if not slots.get("contact") and not await common.has_contact(ctx):
            state.state = S.CONTACT.value
            return Step([ctx.say("ask_contact")], state, effects)
        if state.state == S.CONTACT and not slots.get("contact"):
            return Step([ctx.say("bad_contact")], state, effects)
        return await self._summary(ctx, state, effects, wanted)

    async def _summary(
        self, ctx: FlowContext, state: FlowState, effects: list[Effect], wanted: datetime
    ) -> Step:
        service = await _service_row(ctx, state.slots["service"])
        state.state = S.CONFIRM.value
        text = ctx.say(
            "summary",
            service=_service_name(service, ctx.language),
            when=common.when(ctx, wanted),
            duration=service.duration_minutes if service else "",
            price=price_text(service.price, service.currency, ctx.language) if service else "",
        )
        return Step([text], state, effects)

    async def _ask_service(
        self, ctx: FlowContext, state: FlowState, effects: list[Effect]
    ) -> Step:
        stmt = select(Service).where(Service.active).order_by(Service.created_at, Service.key)
        services = list((await ctx.session.execute(stmt)).scalars())
        if not services:
            return Step([ctx.say("no_slots")], None, effects, offer_human=True)
        state.slots["catalogue"] = [s.key for s in services]
        state.state = S.SERVICE.value
        listed = [
            {
                "name": _service_name(s, ctx.language),
                "duration": s.duration_minutes,
                "price": price_text(s.price, s.currency, ctx.language),
            }
            for s in services
        ]
        return Step([ctx.say("ask_service", services=listed)], state, effects)

    async def _confirm(self, ctx: FlowContext, state: FlowState) -> Step:
        if is_yes(ctx.text, ctx.intent) and not ctx.entities("datetime"):
            wanted = datetime.fromisoformat(state.slots["starts_at"])
            return Step([], state, [Book(state.slots["service"], wanted)])
        if is_no(ctx.text, ctx.intent) and not ctx.entities("datetime"):
            state.state = S.CHANGE.value
            return Step([ctx.say("what_change")], state)
        if ctx.entities("datetime") or ctx.entities("service"):
            return await self._fill(ctx, state)
        return Step([ctx.say("confirm_unclear")], state)

    async def _change(self, ctx: FlowContext, state: FlowState) -> Step:
        if ctx.entities("datetime") or ctx.entities("service"):
            return await self._fill(ctx, state)
        said = plain(ctx.text)
        if any(word in said for word in ("dich vu", "service", "goi", "treatment")):
            state.slots.pop("service", None)
        else:  # a time, or anything else: the time is what people change most
            for key in ("starts_at", "day", "offered"):
                state.slots.pop(key, None)
        state.state = S.WHEN.value
        return await self._next(ctx, state, [])


async def _service_row(ctx: FlowContext, key: str) -> Service | None:
    return await ctx.session.scalar(select(Service).where(Service.key == key))


def _service_name(service: Service | None, language: str) -> str:
    if service is None:
        return "?"
    return service.name_en if language == "en" else service.name_vi


def _name_in(text: str) -> str | None:
    """The name in "tên mình là Lan" / "my name is Lan" / "Lan"; None for a sentence."""
    name = _NAME_PREFIX.sub("", text.strip()).strip(" .,!?")
    words = name.split()
    if not words or len(words) > 5 or any(ch.isdigit() for ch in name):
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)
