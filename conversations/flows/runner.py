"""Runs the dialogues for one message: load the conversation's flow, step it, apply, save.

Called by the engine inside its transaction, after the worker's per-conversation ordering,
so two messages of one conversation never step the same flow at once.

Timeout: a flow silent for `FlowRules.flow_timeout` is closed when the customer next writes
(the reply says so politely) and that message starts afresh; no background tick is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conversations.flows import orders
from conversations.flows.base import (
    FLOW_KEY,
    Applied,
    Flow,
    FlowContext,
    FlowRules,
    FlowState,
    OptOut,
    Step,
)
from conversations.flows.booking import BookingFlow
from conversations.flows.complaint import ComplaintFlow
from conversations.flows.effects import apply_all
from conversations.flows.manage import CancelFlow, RescheduleFlow
from conversations.flows.profile import profile
from conversations.flows.words import is_stop
from crm_core.models import Conversation, Customer, Identity
from nlu.builtin import BuiltinNLU
from nlu.text import detect_language
from nlu.types import ParseResult

START_AT = 0.6  # an intent this sure starts its dialogue (the bot's STRONG)
SWITCH_AT = 0.8  # inside a dialogue, another one takes over only when this sure
OPT_OUT_AT = 0.8
ORDER_STATUS = "order_status"
_STARTS = {
    "book_consultation": "booking",
    "reschedule_appointment": "reschedule",
    "cancel_appointment": "cancel_appointment",
    "complaint": "complaint",
    ORDER_STATUS: ORDER_STATUS,
}
_WHAT = {
    "booking": "what_booking",
    "reschedule": "what_reschedule",
    "cancel_appointment": "what_cancel",
    "complaint": "what_complaint",
}
_SLOT_ENTITIES = frozenset({"service", "datetime", "phone", "email", "order_id"})


@dataclass
class FlowTurn:
    """One message's dialogue work: the step (None: the FirstBot answers), a timeout note."""

    ctx: FlowContext
    flow: Flow | None
    step: Step | None
    note: str | None = None
    had_flow: bool = False
    applied: list[Applied] = field(default_factory=list)

    @property
    def complaint(self) -> bool:
        return self.flow is not None and self.flow.name == "complaint"


class FlowRunner:
    """The registry of dialogues and the rules that start, switch and end them."""

    def __init__(self, *, rules: FlowRules, nlu: BuiltinNLU) -> None:
        self.rules = rules
        self.nlu = nlu
        flows: list[Flow] = [BookingFlow(), RescheduleFlow(), CancelFlow(), ComplaintFlow()]
        self.flows: dict[str, Flow] = {flow.name: flow for flow in flows}

    async def begin(
        self,
        session: AsyncSession,
        *,
        customer: Customer,
        conversation: Conversation,
        identity: Identity | None,
        text: str,
        parsed: ParseResult | None,
        occurred_at: datetime,
        now: datetime,
    ) -> FlowTurn | None:
        """The dialogue's answer to this message, or None when the FirstBot should answer."""
        if parsed is None or parsed.text != text:
            parsed = self.nlu.parse(text, now=occurred_at)
        known = conversation.language or customer.language
        language = detect_language(text, default="en" if known == "en" else "vi")
        persona = await profile(
            session,
            customer,
            language=language,
            now=now,
            zone=self.rules.zone,
            business=self.rules.business_name,
        )
        ctx = FlowContext(
            session=session,
            customer=customer,
            conversation=conversation,
            identity=identity,
            text=text,
            parsed=parsed,
            language=language,
            now=now,
            rules=self.rules,
            persona=persona,
        )
        state = FlowState.from_json((conversation.bot_state or {}).get(FLOW_KEY))
        had_flow = state is not None
        note = None
        if state is not None and self._expired(state, now):
            note = ctx.say("flow_expired", what=ctx.say(_WHAT.get(state.name, "what_booking")))
            state = None
        flow = self.flows.get(state.name) if state is not None else None
        if state is not None and flow is not None:
            turn = await self._inside(ctx, flow, state)
            turn.had_flow = True
            return turn
        return await self._outside(ctx, note=note, had_flow=had_flow)

    async def _inside(self, ctx: FlowContext, flow: Flow, state: FlowState) -> FlowTurn:
        """Global intents first (stop, a human, opt out), then a switch, then the flow."""
        what = ctx.say(_WHAT.get(flow.name, "what_booking"))
        if is_stop(ctx.text):
            step = Step([ctx.say("flow_cancelled", what=what)], None, intent="flow_cancelled")
            return FlowTurn(ctx, None, step)
        if ctx.intent == "request_human" and ctx.confidence >= START_AT:
            return FlowTurn(ctx, None, Step([], None, handoff="request_human"))
        if ctx.intent == "opt_out" and ctx.confidence >= OPT_OUT_AT:
            return FlowTurn(ctx, None, Step([ctx.say("opted_out")], None, [OptOut()]))
        other = self._switch_to(ctx, flow)
        if other is not None:
            return FlowTurn(ctx, other, await other.start(ctx))
        return FlowTurn(ctx, flow, await flow.step(ctx, state))

    def _switch_to(self, ctx: FlowContext, flow: Flow) -> Flow | None:
        """ "huỷ lịch hẹn" in the middle of a booking: the customer changed their mind.

        Never out of a complaint (whatever they say is what happened), never when the message
        carries a detail the current flow wants (a time, a service, a phone number).
        """
        name = _STARTS.get(ctx.intent)
        if (
            flow.name == "complaint"
            or name is None
            or name in (flow.name, ORDER_STATUS)
            or ctx.confidence < SWITCH_AT
            or any(e.get("entity") in _SLOT_ENTITIES for e in ctx.parsed.entities)
        ):
            return None
        return self.flows[name]

    async def _outside(
        self, ctx: FlowContext, *, note: str | None, had_flow: bool
    ) -> FlowTurn | None:
        name = _STARTS.get(ctx.intent) if ctx.confidence >= START_AT else None
        if name == ORDER_STATUS:
            return FlowTurn(ctx, None, await orders.answer(ctx), note, had_flow)
        if name is not None:
            flow = self.flows[name]
            return FlowTurn(ctx, flow, await flow.start(ctx), note, had_flow)
        if note is not None or had_flow:
            return FlowTurn(ctx, None, None, note, had_flow)  # the FirstBot answers
        return None

    def _expired(self, state: FlowState, now: datetime) -> bool:
        touched = state.touched()
        return touched is None or now - touched > self.rules.flow_timeout

    async def finish(self, turn: FlowTurn, *, overridden: bool) -> Step | None:
        """Apply the step's effects (unless a handoff trigger overrode the turn), let the
        flow word the outcome, and store the next state. Returns the final step."""
        step = turn.step
        if step is None or overridden:
            self._save(turn.ctx, None)
            return step
        turn.applied = await apply_all(turn.ctx, step.effects)
        if turn.flow is not None and step.effects:
            step = await turn.flow.after(turn.ctx, step, turn.applied)
        if step.handoff:
            step.state = None  # a person takes over; a later return to the bot starts afresh
        self._save(turn.ctx, step.state)
        return step

    def _save(self, ctx: FlowContext, state: FlowState | None) -> None:
        current: dict[str, Any] = dict(ctx.conversation.bot_state or {})
        if state is None:
            current.pop(FLOW_KEY, None)
        else:
            state.updated_at = ctx.now.isoformat()
            current[FLOW_KEY] = state.to_json()
        ctx.conversation.bot_state = current
