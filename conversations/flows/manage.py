"""Rescheduling and cancelling an upcoming appointment: pick it, (a new time,) confirm, apply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from enum import StrEnum

from conversations.flows import common
from conversations.flows import slots as cal
from conversations.flows.base import (
    Applied,
    CancelAppointment,
    FlowContext,
    FlowState,
    Reschedule,
    Step,
)
from conversations.flows.profile import appointment_text
from conversations.flows.words import is_no, is_yes, number
from crm_core.booking.appointments import upcoming
from crm_core.booking.errors import NotBookable, SlotTaken
from crm_core.models import Appointment, Service

RESCHEDULE = "reschedule"
CANCEL = "cancel_appointment"


class S(StrEnum):
    PICK = "pick"  # several upcoming appointments were listed
    WHEN = "when"  # rescheduling: asked for the new day/time
    TIME = "time"  # rescheduling: a day is known, free times offered
    CONFIRM = "confirm"  # asked to confirm the cancellation or the move


class _ManageFlow(ABC):
    """Shared: find the customer's upcoming appointment, let them pick one of several."""

    name = ""

    async def start(self, ctx: FlowContext) -> Step:
        found = await upcoming(ctx.session, ctx.customer.id, now=ctx.now)
        if not found:
            return Step([ctx.say("no_upcoming")], None)
        state = FlowState(self.name, S.PICK.value, {"ids": [a.id for a in found]})
        if len(found) == 1:
            return await self._chosen(ctx, state, found[0])
        listed = [
            await appointment_text(ctx.session, a, ctx.language, ctx.rules.zone) for a in found
        ]
        return Step([ctx.say("pick_appointment", appointments=listed)], state)

    async def step(self, ctx: FlowContext, state: FlowState) -> Step:
        if state.state == S.PICK:
            chosen = await self._pick(ctx, state)
            if chosen is None:
                return await self.start(ctx)  # list them again
            return await self._chosen(ctx, state, chosen)
        return await self._continue(ctx, state)

    async def _pick(self, ctx: FlowContext, state: FlowState) -> Appointment | None:
        ids = state.slots.get("ids") or []
        chosen = number(ctx.text)
        if chosen is not None and 1 <= chosen <= len(ids):
            return await ctx.session.get(Appointment, ids[chosen - 1])
        days = {at.astimezone(ctx.rules.zone).date() for at, _ in common.read_times(ctx, state)}
        for appointment_id in ids:
            appointment = await ctx.session.get(Appointment, appointment_id)
            if appointment and appointment.starts_at.astimezone(ctx.rules.zone).date() in days:
                return appointment
        return None

    async def _describe(self, ctx: FlowContext, state: FlowState) -> str:
        appointment = await ctx.session.get(Appointment, state.slots["appointment"])
        return await appointment_text(ctx.session, appointment, ctx.language, ctx.rules.zone)

    @abstractmethod
    async def _chosen(self, ctx: FlowContext, state: FlowState, chosen: Appointment) -> Step:
        """What happens once the customer has said which appointment."""

    @abstractmethod
    async def _continue(self, ctx: FlowContext, state: FlowState) -> Step:
        """The next turn after an appointment was chosen (confirm, new time, ...)."""


class CancelFlow(_ManageFlow):
    """ "huỷ lịch hẹn": which one, then an explicit yes."""

    name = CANCEL

    async def _chosen(self, ctx: FlowContext, state: FlowState, chosen: Appointment) -> Step:
        state.slots["appointment"] = chosen.id
        state.state = S.CONFIRM.value
        return Step(
            [ctx.say("confirm_cancel", appointment=await self._describe(ctx, state))], state
        )

    async def _continue(self, ctx: FlowContext, state: FlowState) -> Step:
        described = await self._describe(ctx, state)
        if is_yes(ctx.text, ctx.intent):
            return Step([], state, [CancelAppointment(state.slots["appointment"])])
        if is_no(ctx.text, ctx.intent):
            return Step([ctx.say("kept", appointment=described)], None)
        return Step([ctx.say("confirm_unclear")], state)

    async def after(self, ctx: FlowContext, step: Step, applied: list[Applied]) -> Step:
        done = [a for a in applied if isinstance(a.effect, CancelAppointment)]
        if not done:
            return step
        if done[0].error is not None:
            return Step([ctx.say("no_upcoming")], None)
        text = await appointment_text(ctx.session, done[0].result, ctx.language, ctx.rules.zone)
        return Step([ctx.say("cancelled", appointment=text)], None, step.effects)


class RescheduleFlow(_ManageFlow):
    """ "đổi lịch": which one, the new time (checked like a booking), then an explicit yes."""

    name = RESCHEDULE

    async def _chosen(self, ctx: FlowContext, state: FlowState, chosen: Appointment) -> Step:
        state.slots["appointment"] = chosen.id
        state.slots["service"] = await _service_key(ctx, chosen)
        state.slots.pop("day", None)
        if common.read_times(ctx, state):
            return await self._new_time(ctx, state)
        state.state = S.WHEN.value
        return Step([ctx.say("ask_new_time", appointment=await self._describe(ctx, state))], state)

    async def _continue(self, ctx: FlowContext, state: FlowState) -> Step:
        if state.state == S.CONFIRM and not ctx.entities("datetime"):
            if is_yes(ctx.text, ctx.intent):
                wanted = datetime.fromisoformat(state.slots["starts_at"])
                return Step([], state, [Reschedule(state.slots["appointment"], wanted)])
            if is_no(ctx.text, ctx.intent):
                state.state = S.WHEN.value
                for key in ("starts_at", "day", "offered"):
                    state.slots.pop(key, None)
                described = await self._describe(ctx, state)
                return Step([ctx.say("ask_new_time", appointment=described)], state)
            return Step([ctx.say("confirm_unclear")], state)
        return await self._new_time(ctx, state)

    async def _new_time(self, ctx: FlowContext, state: FlowState) -> Step:
        slots = state.slots
        times = common.read_times(ctx, state)
        if len(times) >= 2:
            first, second = (common.when(ctx, at) for at, _ in times[:2])
            return Step([ctx.say("which_time", first=first, second=second)], state)
        if not times and (chosen := common.picked(ctx, slots.get("offered") or [])):
            times = [(chosen, "minute")]
        if not times:
            described = await self._describe(ctx, state)
            return Step([ctx.say("ask_new_time", appointment=described)], state)
        at, grain = times[0]
        if grain not in common.TIME_GRAINS:
            text = await common.ask_time_on(
                ctx, state, slots["service"], at.astimezone(ctx.rules.zone).date()
            )
            state.state = S.TIME.value
            return Step([text], state)
        verdict = await cal.judge(
            ctx.session,
            ctx.rules.booking,
            service_key=slots["service"],
            starts_at=at,
            now=ctx.now,
            limit=ctx.rules.slots_offered,
            ignore_appointment=slots["appointment"],
        )
        slots["day"] = at.astimezone(ctx.rules.zone).date().isoformat()
        if verdict.reason is not None:
            common.offer(ctx, state, verdict.alternatives)
            state.state = S.TIME.value
            return Step(
                [common.refusal_text(ctx, verdict.reason, at, verdict.alternatives)], state
            )
        slots["starts_at"] = common.iso(at)
        state.state = S.CONFIRM.value
        appointment = await ctx.session.get(Appointment, slots["appointment"])
        service = await ctx.session.get(Service, appointment.service_id) if appointment else None
        text = ctx.say(
            "confirm_reschedule",
            service=(service.name_en if ctx.language == "en" else service.name_vi)
            if service
            else "",
            old=common.when(ctx, appointment.starts_at) if appointment else "",
            when=common.when(ctx, at),
        )
        return Step([text], state)

    async def after(self, ctx: FlowContext, step: Step, applied: list[Applied]) -> Step:
        done = [a for a in applied if isinstance(a.effect, Reschedule)]
        if not done:
            return step
        state = step.state or FlowState(RESCHEDULE, S.CONFIRM.value, {})
        outcome = done[0]
        if outcome.error is None:
            appointment = outcome.result
            service = await ctx.session.get(Service, appointment.service_id)
            name = (
                (service.name_en if ctx.language == "en" else service.name_vi) if service else ""
            )
            text = ctx.say(
                "rescheduled", service=name, when=common.when(ctx, appointment.starts_at)
            )
            return Step([text], None, step.effects)
        wanted = datetime.fromisoformat(state.slots.pop("starts_at"))
        if isinstance(outcome.result, SlotTaken):
            alternatives = [s.starts_at for s in outcome.result.alternatives]
            reason = "taken"
        else:
            reason = outcome.result.reason if isinstance(outcome.result, NotBookable) else ""
            alternatives = await cal.nearest(
                ctx.session, ctx.rules.booking, state.slots["service"], wanted, ctx.now, 3
            )
        common.offer(ctx, state, alternatives)
        state.state = S.TIME.value
        return Step([common.refusal_text(ctx, reason, wanted, alternatives)], state, step.effects)


async def _service_key(ctx: FlowContext, appointment: Appointment) -> str:
    service = await ctx.session.get(Service, appointment.service_id)
    return service.key if service else ""
