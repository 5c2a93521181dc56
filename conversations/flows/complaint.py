"""Complaint intake: what happened, an order number, how to reach the customer → a ticket.

A severe complaint (high or urgent from the wording and the customer's standing, see
crm_core.tickets_severity) or an angry one while another ticket is still open is not
questioned further: the ticket is opened with what was said and a person takes over at once.
"""

from __future__ import annotations

from enum import StrEnum

from conversations.flows import common
from conversations.flows.base import Applied, FlowContext, FlowState, OpenTicket, SaveContact, Step
from conversations.flows.words import is_no, plain
from conversations.triggers import negative
from crm_core.tickets import DEFAULT_SLA_HOURS, customer_standing, severity_of, ticket_label

NAME = "complaint"
SEVERE = ("high", "urgent")
_DETAIL_WORDS = 6  # a first message this long already says what happened


class S(StrEnum):
    WHAT = "what"
    ORDER = "order"
    CONTACT = "contact"


class ComplaintFlow:
    name = NAME

    async def start(self, ctx: FlowContext) -> Step:
        state = FlowState(NAME, S.WHAT.value, {"said": [ctx.text]})
        if len(plain(ctx.text).split()) >= _DETAIL_WORDS or ctx.entity("order_id"):
            state.slots["what"] = ctx.text
        return await self._next(ctx, state)

    async def step(self, ctx: FlowContext, state: FlowState) -> Step:
        slots = state.slots
        slots.setdefault("said", []).append(ctx.text)
        if state.state == S.WHAT:
            slots["what"] = ctx.text
        elif state.state == S.ORDER and not ctx.entity("order_id") and is_no(ctx.text, ctx.intent):
            slots["order"] = ""
        elif state.state == S.ORDER and not ctx.entity("order_id"):
            slots["order"] = ctx.text.strip()[:64]  # their words for it beat nothing
        return await self._next(ctx, state)

    async def _next(self, ctx: FlowContext, state: FlowState) -> Step:
        slots = state.slots
        effects: list = []
        if order := ctx.entity("order_id"):
            slots["order"] = str(order)
        phone, email = ctx.entity("phone"), ctx.entity("email")
        if phone or email:
            effects.append(SaveContact(phone=phone, email=email))
            slots["contact"] = phone or email
        wording = "\n".join(slots.get("said", []))
        lifetime, open_count = await customer_standing(ctx.session, ctx.customer.id)
        severity = severity_of(wording, lifetime_value=lifetime, open_tickets=open_count)
        angry_repeat = open_count > 0 and negative(wording)
        if severity in SEVERE or angry_repeat:
            slots["severity"] = "high" if angry_repeat and severity not in SEVERE else severity
            return await self._open(ctx, state, effects, escalate=True)
        if "what" not in slots:
            state.state = S.WHAT.value
            return Step([ctx.say("complaint_ask_what")], state, effects)
        if "order" not in slots:
            state.state = S.ORDER.value
            return Step([ctx.say("complaint_ask_order")], state, effects)
        if not slots.get("contact"):
            slots["contact"] = await common.contact_of(ctx) or ""
        if not slots["contact"]:
            state.state = S.CONTACT.value
            return Step([ctx.say("complaint_ask_contact")], state, effects)
        slots["severity"] = severity
        return await self._open(ctx, state, effects, escalate=False)

    async def _open(
        self, ctx: FlowContext, state: FlowState, effects: list, *, escalate: bool
    ) -> Step:
        slots = state.slots
        what = slots.get("what") or ctx.text
        ticket = OpenTicket(
            subject=" ".join(what.split())[:120],
            description="\n".join(slots.get("said", [])),
            order_id=slots.get("order") or None,
            contact=slots.get("contact") or await common.contact_of(ctx),
            text="\n".join(slots.get("said", [])),
            severity=slots.get("severity"),
        )
        state.slots["escalate"] = escalate
        return Step(
            [],
            state,
            [*effects, ticket],
            handoff="complaint" if escalate else None,
            intent="complaint",
        )

    async def after(self, ctx: FlowContext, step: Step, applied: list[Applied]) -> Step:
        opened = [a for a in applied if isinstance(a.effect, OpenTicket) and a.error is None]
        if not opened:
            return step
        ticket = opened[0].result
        hours = (ctx.rules.sla_hours or DEFAULT_SLA_HOURS).get(ticket.severity, 24.0)
        sla = _hours_text(hours, ctx.language)
        escalate = bool(step.state and step.state.slots.get("escalate"))
        key = "complaint_escalated" if escalate else "complaint_ack"
        contact = ticket.contact or ("kênh này" if ctx.language != "en" else "this chat")
        text = ctx.say(key, ticket=ticket_label(ticket), sla=sla, contact=contact)
        return Step([text], None, step.effects, handoff=step.handoff, intent=step.intent)


def _hours_text(hours: float, language: str) -> str:
    value = f"{hours:g}"
    if language == "en":
        return f"{value} hour" if value == "1" else f"{value} hours"
    return f"{value} giờ"
