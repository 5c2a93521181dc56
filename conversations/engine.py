"""Processing one inbox event: identify, continue the conversation, log, let the bot answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import InboundEvent
from conversations.bot import BotContext, BotDecision, FirstBot
from conversations.flows.runner import FlowRunner, FlowTurn
from conversations.hours import BusinessHours
from conversations.triggers import after_hours_note, handoff_reason
from crm_core import csat, customers, timeline
from crm_core.conversations import (
    add_outbound,
    move,
    open_or_continue,
    set_opt_out,
    threaded_conversation,
)
from crm_core.db import Database
from crm_core.enums import ConversationStatus, Direction, InboxStatus, MessageStatus
from crm_core.models import Conversation, Customer, InboxEvent, Message
from crm_core.text import fold
from crm_core.types import new_id, utcnow
from nlu.types import ParseResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What processing one event produced (for metrics and for waking the dispatcher)."""

    processed: bool
    replies: int = 0


class ConversationEngine:
    """Runs the pipeline step 3 of DESIGN.md for one event, all in one transaction."""

    def __init__(
        self,
        *,
        db: Database,
        bot: FirstBot,
        region: str,
        hours: BusinessHours | None = None,
        clock: Callable[[], datetime] = utcnow,
        skill_map: Mapping[str, str] | None = None,
        flows: FlowRunner | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.region = region
        self.hours = hours or BusinessHours(windows={}, zone=ZoneInfo("UTC"))
        self.clock = clock
        self.skill_map = dict(skill_map or {})  # handoff reason -> skill agents are routed by
        self.flows = flows  # the dialogues (booking, complaint...); None: the FirstBot alone

    async def process(self, inbox_id: str, *, parsed: ParseResult | None = None) -> Outcome:
        """Idempotent: an event already processed is skipped, so redelivery is harmless.

        `parsed`: the event's text already through NLU (the worker does it before this
        transaction, so a Rasa round trip never holds database locks).
        """
        async with self.db.transaction() as session:
            row = await self._claim(session, inbox_id)
            if row is None:
                return Outcome(processed=False)
            event = InboundEvent.model_validate(row.event)
            outcome = await self._handle(session, event, parsed)
            row.status = InboxStatus.PROCESSED.value
            row.processed_at = utcnow()
            row.attempts += 1
            return outcome

    async def record_failure(self, inbox_id: str, error: str, *, give_up: bool) -> None:
        """Count a failed attempt in its own transaction; park the event after too many."""
        async with self.db.transaction() as session:
            row = await session.get(InboxEvent, inbox_id)
            if row is None or row.status != InboxStatus.PENDING.value:
                return
            row.attempts += 1
            row.error = error[:500]
            if give_up:
                row.status = InboxStatus.FAILED.value

    async def _claim(self, session: AsyncSession, inbox_id: str) -> InboxEvent | None:
        stmt = select(InboxEvent).where(InboxEvent.id == inbox_id)
        if self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None or row.status != InboxStatus.PENDING.value:
            return None
        return row

    async def _handle(
        self, session: AsyncSession, event: InboundEvent, parsed: ParseResult | None = None
    ) -> Outcome:
        resolved = await customers.resolve_identity(
            session,
            channel=event.channel,
            external_id=event.external_user_id,
            display_name=event.display_name,
            username=event.username,
        )
        if event.contact is not None:
            resolved = await customers.add_contact_details(
                session,
                resolved,
                phone=event.contact.phone,
                email=event.contact.email,
                name=event.contact.name,
                verified=event.contact.verified,
                source=event.channel,
                region=self.region,
                join_on_verified_match=False,
            )
        customer = resolved.customer
        if event.kind in ("follow", "unfollow"):
            timeline.record(
                session,
                customer_id=customer.id,
                kind=f"{event.kind}ed",
                actor_type="customer",
                data={"channel": event.channel},
            )
            return Outcome(processed=True)
        returning = customer.last_seen_at is not None
        rated = await self._survey_answer(session, event, resolved)
        if rated is not None:
            return rated
        if event.kind == "opt_in" and resolved.identity.opted_out_at is None:
            # "YES"/"START" from someone subscribed is just an answer, not a re-subscription.
            meta = {k: v for k, v in event.meta.items() if k != "twilio_keyword"}
            event = event.model_copy(update={"kind": "message", "meta": meta})
        conversation = await self._conversation(session, event, resolved)
        decision = None
        turn: FlowTurn | None = None
        if _bot_may_answer(event) and conversation.status == ConversationStatus.BOT.value:
            # Otherwise a human owns it (or it waits for one): the bot stays silent.
            if self.flows is not None:
                turn = await self.flows.begin(
                    session,
                    customer=customer,
                    conversation=conversation,
                    identity=resolved.identity,
                    text=event.text,
                    parsed=parsed,
                    occurred_at=_aware(event.occurred_at),
                    now=self.clock(),
                )
            if turn is not None and turn.step is not None:
                decision = self._flow_decision(turn)
            else:
                context = _context(
                    event, customer, conversation, returning=returning, parsed=parsed
                )
                decision = self.bot.decide(context)
                if turn is not None and turn.note:
                    decision = replace(decision, replies=(turn.note, *decision.replies))
        if not await _log_inbound(session, self.db, conversation, event, decision):
            return Outcome(processed=True)
        if turn is not None and decision is not None and self.flows is not None:
            decision = await self._finish_flow(turn, decision, customer, text=event.text)
        customer.last_seen_at = utcnow()
        self._record_kind(session, event, resolved, conversation)
        if conversation.snoozed_until is not None:
            _end_snooze(session, conversation)
        if decision is None:
            return Outcome(processed=True)
        return self._apply(session, conversation, customer, decision, text=event.text)

    async def _survey_answer(
        self, session: AsyncSession, event: InboundEvent, resolved: customers.Resolved
    ) -> Outcome | None:
        """A 1-5 reply within a day of a resolve is the CSAT answer, not a new conversation."""
        score = csat.parse_rating(event.text) if event.kind == "message" else None
        if score is None:
            return None  # only a rating needs the look-up (keeps the common path cheap)
        stmt = (
            select(Conversation)
            .where(
                Conversation.identity_id == resolved.identity.id,
                Conversation.status == ConversationStatus.RESOLVED.value,
                Conversation.resolved_at >= self.clock() - csat.ANSWER_WINDOW,
            )
            .order_by(Conversation.resolved_at.desc())
            .limit(1)
        )
        last = (await session.execute(stmt)).scalar_one_or_none()
        if last is None or last.bot_state.get("csat") != csat.PENDING:
            return None
        last.bot_state = {k: v for k, v in last.bot_state.items() if k != "csat"}
        if not await _log_inbound(session, self.db, last, event, None):
            return Outcome(processed=True)
        last.csat = score
        timeline.record(
            session,
            customer_id=last.customer_id,
            conversation_id=last.id,
            kind="csat_received",
            actor_type="customer",
            data={"score": score},
        )
        add_outbound(session, last, text=csat.thanks_text(last.language), author_type="system")
        return Outcome(processed=True, replies=1)

    async def _conversation(
        self, session: AsyncSession, event: InboundEvent, resolved: customers.Resolved
    ) -> Conversation:
        """Threaded channels (e-mail) follow References; the others continue the open one."""
        threaded = event.channel == "email"
        thread = (
            await threaded_conversation(session, channel=event.channel, refs=event.thread_refs)
            if threaded
            else None
        )
        conversation, _ = await open_or_continue(
            session,
            customer_id=resolved.customer.id,
            identity=resolved.identity,
            subject=event.subject,
            thread=thread,
            new_thread=threaded and thread is None,
        )
        return conversation

    def _record_kind(
        self,
        session: AsyncSession,
        event: InboundEvent,
        resolved: customers.Resolved,
        conversation: Conversation,
    ) -> None:
        """Opt-outs and machine-sent mail leave a trace on the timeline."""
        if event.kind in ("opt_out", "opt_in"):
            set_opt_out(
                session,
                resolved.identity,
                opted_out=event.kind == "opt_out",
                source=f"{event.channel}:keyword",
                actor_type="customer",
                conversation_id=conversation.id,
            )
        elif event.automated:
            timeline.record(
                session,
                customer_id=conversation.customer_id,
                conversation_id=conversation.id,
                kind="automated_message",
                actor_type="system",
                data={"channel": event.channel, "reason": event.automated},
            )

    def _flow_decision(self, turn: FlowTurn) -> BotDecision:
        """The dialogue's step as the bot's decision (intent logged, handoff, replies)."""
        step = turn.step
        assert step is not None
        replies = list(step.replies)
        if step.handoff and not replies:
            replies = [self.bot.handoff_text(turn.ctx.language)]
        if turn.note:
            replies.insert(0, turn.note)
        return BotDecision(
            replies=tuple(replies),
            language=turn.ctx.language,
            intent=step.intent or turn.ctx.intent,
            confidence=turn.ctx.confidence,
            understood=True,
            offer_human=step.offer_human,
            handoff=bool(step.handoff),
            sentiment_handled=turn.complaint,
            handoff_reason=step.handoff if step.handoff != "request_human" else None,
        )

    async def _finish_flow(
        self, turn: FlowTurn, decision: BotDecision, customer: Customer, *, text: str
    ) -> BotDecision:
        """Apply the dialogue's effects in this transaction; a trigger (VIP, an upset
        customer) that hands the turn to a person cancels them, as it overrides the answer."""
        assert self.flows is not None
        triggered = handoff_reason(decision, text=text, tags=list(customer.tags))
        overridden = bool(triggered) and not decision.handoff
        step = await self.flows.finish(turn, overridden=overridden)
        if step is None or overridden:
            return decision
        turn.step = step
        return self._flow_decision(turn)

    def _apply(
        self,
        session: AsyncSession,
        conversation: Conversation,
        customer: Customer,
        decision: BotDecision,
        *,
        text: str,
    ) -> Outcome:
        conversation.language = decision.language
        if not customer.language:
            customer.language = decision.language
        state = dict(conversation.bot_state)
        state["offered_human"] = decision.offer_human
        state["failed_turns"] = 0 if decision.understood else int(state.get("failed_turns", 0)) + 1
        conversation.bot_state = state
        reason = handoff_reason(decision, text=text, tags=list(customer.tags))
        if reason and "flow" in state:
            # A person takes over: a dialogue left half way must not resume behind their back.
            conversation.bot_state = {k: v for k, v in state.items() if k != "flow"}
        replies = list(decision.replies)
        if reason and not decision.handoff:
            replies = [self.bot.handoff_text(decision.language)]  # a trigger overrides the answer
        if reason and (note := after_hours_note(self.hours, self.clock(), decision.language)):
            replies.append(note)
        if replies:
            # One turn, one message: several sends per turn would trip per-chat rate limits.
            add_outbound(session, conversation, text="\n\n".join(replies), author_type="bot")
        if reason:
            move(
                session,
                conversation,
                ConversationStatus.WAITING_AGENT,
                actor_type="bot",
                reason=reason,
            )
            conversation.skill = self.skill_map.get(reason) or self.skill_map.get(
                reason.removeprefix("intent:")
            )
        return Outcome(processed=True, replies=int(bool(replies)))


def _aware(at: datetime) -> datetime:
    """Stored instants are UTC; a naive one (SQLite JSON round trip) is read as such."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _end_snooze(session: AsyncSession, conversation: Conversation) -> None:
    """The customer wrote again: a snoozed conversation is back in front of the agents."""
    conversation.snoozed_until = None
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind="unsnoozed",
        actor_type="customer",
        data={"reason": "customer_message"},
    )


def _bot_may_answer(event: InboundEvent) -> bool:
    """Never answer machines (no mail loops), provider keywords (Twilio does), or no text."""
    return (
        event.kind == "message"
        and bool(event.text.strip())  # a shared contact or a bare photo is not a question
        and not event.automated
        and "twilio_keyword" not in event.meta
    )


def _context(
    event: InboundEvent,
    customer: Customer,
    conversation: Conversation,
    *,
    returning: bool,
    parsed: ParseResult | None = None,
) -> BotContext:
    state: dict[str, Any] = conversation.bot_state or {}
    return BotContext(
        text=event.text,
        customer_name=customer.name,
        is_returning=returning,
        preferred_language=customer.language,
        offered_human=bool(state.get("offered_human")),
        failed_turns=int(state.get("failed_turns", 0)),
        parsed=parsed if parsed is not None and parsed.text == event.text else None,
    )


async def _log_inbound(
    session: AsyncSession,
    db: Database,
    conversation: Conversation,
    event: InboundEvent,
    decision: BotDecision | None,
) -> bool:
    """Insert the customer's message once (unique per channel + message id) and time-line it."""
    message_id = new_id()
    values: dict[str, Any] = {
        "id": message_id,
        "conversation_id": conversation.id,
        "customer_id": conversation.customer_id,
        "channel": event.channel,
        "direction": Direction.IN.value,
        "author_type": "customer",
        "author_name": event.display_name,
        "text": event.text,
        "search_text": fold(event.text),  # a Core insert: the ORM hook that folds does not run
        "attachments": [a.model_dump(mode="json") for a in event.attachments],
        "status": MessageStatus.RECEIVED.value,
        "external_id": event.external_message_id,
        "meta": _message_meta(event),
        "intent": decision.intent if decision else None,
        "intent_confidence": decision.confidence if decision else None,
        "attempts": 0,
        "created_at": utcnow(),
    }
    await session.flush()
    stmt = (
        db.insert(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(Message.id)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is None:
        log.info("duplicate message %s on %s ignored", event.external_message_id, event.channel)
        return False
    conversation.last_message_at = values["created_at"]
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind="message_received",
        actor_type="customer",
        data={"message_id": message_id, "channel": event.channel},
    )
    return True


def _message_meta(event: InboundEvent) -> dict[str, Any]:
    """What the transcript and later replies need: subject and references for e-mail, etc."""
    meta = dict(event.meta)
    if event.subject:
        meta["subject"] = event.subject
    if event.thread_refs:
        meta["references"] = list(event.thread_refs)
    if event.automated:
        meta["automated"] = event.automated
    if event.kind != "message":
        meta["kind"] = event.kind
    return meta
