"""The handoff clock: snoozes that end, claims nobody answers, SLA breaches, auto-assignment.

Several workers may run the same tick without doing anything twice: snoozes, requeues and
assignments are compare-and-set updates (only from the state that was read), an assignment
counts the agent's load under a lock on the agent's row, and a breach is checked again under a
lock on the conversation's row (PostgreSQL; SQLite has one writer at a time) before it is
recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.db import Database
from crm_core.models import Agent, Conversation, TimelineEvent
from crm_core.types import utcnow
from handoff import queue
from handoff.assignment import PASSED_OVER, WAITING, WITH_AGENT, assign_waiting, awake
from handoff.times import first_agent_replies, handoff_starts

log = logging.getLogger(__name__)
OWNERSHIP_EVENTS = ("claimed", "assigned")


@dataclass(frozen=True)
class HandoffPolicy:
    """The knobs of the clock, from settings (None switches a rule off)."""

    requeue_after: timedelta | None
    first_response: timedelta | None
    auto_assign: bool
    capacity: int = 0


@dataclass
class Tick:
    """What one pass did, for logs, tests and the Slack/console wake-up."""

    woken: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.woken or self.requeued or self.breached or self.assigned)


class HandoffScheduler:
    def __init__(
        self,
        db: Database,
        policy: HandoffPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> Tick:
        moment = now or self.clock()
        tick = Tick()
        tick.woken = await self._end_snoozes(moment)
        if self.policy.requeue_after is not None:
            tick.requeued = await self._requeue_silent_claims(moment, self.policy.requeue_after)
        if self.policy.first_response is not None:
            tick.breached = await self._mark_breaches(moment, self.policy.first_response)
        if self.policy.auto_assign:
            done = await assign_waiting(self.db, now=moment, capacity=self.policy.capacity)
            tick.assigned = [a.conversation_id for a in done]
        if tick.changed:
            log.info(
                "handoff tick: %d woken, %d requeued, %d breached, %d assigned",
                len(tick.woken),
                len(tick.requeued),
                len(tick.breached),
                len(tick.assigned),
            )
        return tick

    async def _end_snoozes(self, now: datetime) -> list[str]:
        async with self.db.reading() as session:
            due = (
                await session.scalars(
                    select(Conversation.id).where(
                        Conversation.snoozed_until.is_not(None), Conversation.snoozed_until <= now
                    )
                )
            ).all()
        woken = []
        for conversation_id in due:
            async with self.db.transaction() as session:
                won = await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id, Conversation.snoozed_until <= now)
                    .values(snoozed_until=None, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    await _record(session, conversation_id, "unsnoozed", {"reason": "timer"})
                    woken.append(conversation_id)
        return woken

    async def _requeue_silent_claims(self, now: datetime, after: timedelta) -> list[str]:
        """An owner who has not answered within `after` of taking it gives it back."""
        async with self.db.reading() as session:
            owned = (
                await session.execute(
                    select(Conversation.id, Conversation.assigned_agent_id, Agent.name)
                    .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
                    .where(Conversation.status == WITH_AGENT, awake(now))
                )
            ).all()
            taken = await _latest(session, [row[0] for row in owned], OWNERSHIP_EVENTS)
            answered = await first_agent_replies(session, taken)
        requeued = []
        for conversation_id, agent_id, agent_name in owned:
            since = taken.get(conversation_id)
            if since is None or conversation_id in answered or now - since < after:
                continue
            if await self._requeue(conversation_id, agent_id, agent_name, now, now - since):
                requeued.append(conversation_id)
        return requeued

    async def _requeue(
        self,
        conversation_id: str,
        agent_id: str | None,
        agent_name: str | None,
        now: datetime,
        waited: timedelta,
    ) -> bool:
        async with self.db.transaction() as session:
            won = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.status == WITH_AGENT,
                    _same_owner(agent_id),
                )
                .values(status=WAITING, assigned_agent_id=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return False
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            if agent_id:
                passed = list(conversation.bot_state.get(PASSED_OVER) or ())
                state = {**conversation.bot_state, PASSED_OVER: [*passed, agent_id]}
                conversation.bot_state = state
            moved = {"from": WITH_AGENT, "to": WAITING, "reason": "no_reply"}
            await _record(session, conversation_id, "status_changed", moved)
            data = {
                "agent_id": agent_id,
                "agent_name": agent_name,
                "reason": "no_reply",
                "after_s": round(waited.total_seconds()),
            }
            await _record(session, conversation_id, "requeued", data)
            return True

    async def _mark_breaches(self, now: datetime, target: timedelta) -> list[str]:
        """Once per handoff: the first response is overdue and nobody has answered."""
        async with self.db.reading() as session:
            ids = (
                await session.scalars(
                    select(Conversation.id).where(
                        Conversation.status.in_((WAITING, WITH_AGENT)), awake(now)
                    )
                )
            ).all()
            starts = await handoff_starts(session, ids)
            answered = await first_agent_replies(session, starts)
            flagged = await _latest(session, list(starts), ("sla_breached",))
        breached = []
        for conversation_id, since in starts.items():
            overdue = now - since >= target
            flagged_at = flagged.get(conversation_id)
            already = flagged_at is not None and flagged_at >= since
            if not overdue or already or conversation_id in answered:
                continue
            data = {
                "due_at": (since + target).isoformat(),
                "target_s": round(target.total_seconds()),
                "waited_s": round((now - since).total_seconds()),
            }
            async with self.db.transaction() as session:
                if not await _still_unflagged(session, conversation_id, since):
                    continue
                await _record(session, conversation_id, "sla_breached", data)
            breached.append(conversation_id)
        return breached

    async def run(
        self,
        interval_s: float,
        *,
        wake: asyncio.Event | None = None,
        on_change: Callable[[Tick], None] = lambda _tick: None,
    ) -> None:
        """Background loop: a tick every `interval_s`, or sooner when `wake` is set."""
        woken = wake or asyncio.Event()
        while True:
            try:
                tick = await self.run_once()
                if tick.changed:
                    on_change(tick)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handoff tick failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await woken.wait()
            woken.clear()


async def _still_unflagged(session: AsyncSession, conversation_id: str, since: datetime) -> bool:
    """Checked again inside the writing transaction, so two ticks record one breach.

    PostgreSQL: the conversation's row is locked first (SKIP LOCKED: while another worker holds
    it, that worker decides), then the events are read afresh, which shows a breach another
    worker committed meanwhile. SQLite: the transaction already holds the only write lock.
    """
    stmt = select(Conversation.status).where(Conversation.id == conversation_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, key_share=True)
    status = (await session.execute(stmt)).scalar_one_or_none()
    if status not in (WAITING, WITH_AGENT):
        return False  # locked by another worker, resolved or handed back meanwhile
    flagged = await _latest(session, [conversation_id], ("sla_breached",))
    if conversation_id in flagged and flagged[conversation_id] >= since:
        return False
    return conversation_id not in await first_agent_replies(session, {conversation_id: since})


def _same_owner(agent_id: str | None):  # noqa: ANN202 - a SQLAlchemy clause
    if agent_id is None:
        return Conversation.assigned_agent_id.is_(None)
    return Conversation.assigned_agent_id == agent_id


async def _latest(
    session: AsyncSession, ids: list[str], kinds: tuple[str, ...]
) -> dict[str, datetime]:
    """The time of the latest event of `kinds` per conversation."""
    if not ids:
        return {}
    rows = await session.execute(
        select(TimelineEvent.conversation_id, TimelineEvent.created_at).where(
            and_(TimelineEvent.conversation_id.in_(ids), TimelineEvent.kind.in_(kinds))
        )
    )
    latest: dict[str, datetime] = {}
    for conversation_id, created_at in rows:
        if conversation_id not in latest or created_at > latest[conversation_id]:
            latest[conversation_id] = created_at
    return latest


async def _record(
    session: AsyncSession, conversation_id: str, kind: str, data: dict[str, object]
) -> None:
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation_id,
        kind=kind,
        actor_type="system",
        data=data,
    )


def configure_queue(policy: HandoffPolicy) -> None:
    """Share the SLA target with the queue view (one process, one configuration)."""
    queue.configure(first_response=policy.first_response)
