"""Appointment automation: confirmations, reminders before the start, no-show marking after.

Keys carry the appointment's start (`reminder:24h:<id>@20261120T0200Z`): a rescheduled
appointment is a new time to remind of and confirm, while the same time is never told twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core import timeline
from crm_core.automation import texts
from crm_core.automation.rules import AutomationRules, hours_label
from crm_core.booking.ics import invitation
from crm_core.db import Database
from crm_core.files import attachment_of, store_file
from crm_core.models import Appointment, AutomationRun, Customer, Service
from crm_core.outreach import Outcome, claim, contact_address, send_proactive

BATCH = 200
# Booked in a dialogue on one of these: the dialogue already said "booked" there, so only the
# e-mail with the invitation goes out. Booked elsewhere (API, console): the customer is told.
DIALOGUE_CHANNELS = frozenset({"telegram", "zalo", "webchat", "sms", "email"})

Tally = Callable[[str, Outcome], None]


def stamp(appointment: Appointment) -> str:
    return appointment.starts_at.strftime("%Y%m%dT%H%MZ")


def confirm_key(appointment: Appointment) -> str:
    return f"confirm:{appointment.id}@{stamp(appointment)}"


def invitation_key(appointment: Appointment) -> str:
    return f"confirm_email:{appointment.id}@{stamp(appointment)}"


def reminder_key(appointment: Appointment, hours: float) -> str:
    return f"reminder:{hours_label(hours)}:{appointment.id}@{stamp(appointment)}"


def due_reminders(appointment: Appointment, hours: Sequence[float], now: datetime) -> list[float]:
    """Reminders due now, latest first: their time passed, the start has not, and the booking
    already existed then (a booking made 3 h ahead gets no 24 h reminder, its confirmation)."""
    due = []
    for h in hours:
        at = appointment.starts_at - timedelta(hours=h)
        if at <= now < appointment.starts_at and at >= appointment.created_at:
            due.append(h)
    return sorted(due)


async def _locked(session: AsyncSession, appointment_id: str) -> Appointment | None:
    """The appointment if it is still booked; on PostgreSQL skip it while another worker has it."""
    stmt = select(Appointment).where(
        Appointment.id == appointment_id, Appointment.status == "booked"
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _taken(db: Database, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    async with db.reading() as session:
        rows = await session.execute(select(AutomationRun.key).where(AutomationRun.key.in_(keys)))
        return set(rows.scalars())


async def _booked(db: Database, *conditions: ColumnElement[bool]) -> list[Appointment]:
    """Every booked appointment matching, read in keyset pages (done ones are filtered later,
    so a fixed LIMIT could starve the rest)."""
    found: list[Appointment] = []
    while True:
        stmt = select(Appointment).where(Appointment.status == "booked", *conditions)
        if found:
            last = found[-1]
            stmt = stmt.where(
                or_(
                    Appointment.starts_at > last.starts_at,
                    and_(Appointment.starts_at == last.starts_at, Appointment.id > last.id),
                )
            )
        stmt = stmt.order_by(Appointment.starts_at, Appointment.id).limit(BATCH)
        async with db.reading() as session:
            page = list((await session.execute(stmt)).scalars())
        found += page
        if len(page) < BATCH:
            return found


async def confirmations(db: Database, rules: AutomationRules, now: datetime, tally: Tally) -> None:
    """Tell the customer about a new (or moved) booking: the booking channel and the e-mail."""
    found = await _booked(
        db, Appointment.starts_at > now, Appointment.updated_at >= now - rules.confirm_window
    )
    keys = [k for a in found for k in (confirm_key(a), invitation_key(a))]
    taken = await _taken(db, keys)
    for candidate in found:
        if confirm_key(candidate) in taken and invitation_key(candidate) in taken:
            continue
        async with db.transaction() as session:
            appointment = await _locked(session, candidate.id)
            if appointment is None or appointment.starts_at != candidate.starts_at:
                continue
            service = await session.get_one(Service, appointment.service_id)
            emailed = await _invitation(session, appointment, service, rules, now)
            tally("confirmation_email", emailed)
            confirmed = await _confirm(session, appointment, service, rules, now, emailed)
            tally("confirmation", confirmed)


async def _invitation(
    session: AsyncSession,
    appointment: Appointment,
    service: Service,
    rules: AutomationRules,
    now: datetime,
) -> Outcome:
    """The e-mail with the .ics invitation, whenever an e-mail address is known."""
    key = invitation_key(appointment)
    address = await contact_address(session, appointment.customer_id, "email")
    attachments, stored = None, None
    customer = await session.get_one(Customer, appointment.customer_id)
    language = customer.language or "vi"
    if address and "email" in rules.channels and await session.get(AutomationRun, key) is None:
        data = invitation(
            appointment,
            service,
            business_name=rules.business_name,
            organizer_email=rules.organizer_email or address,
            timezone=rules.timezone,
            language=language,
            attendee_email=address,
            attendee_name=customer.name,
            now=now,
        )
        stored = store_file(
            session,
            name="invitation.ics",
            mime_type="text/calendar",
            data=data,
            max_bytes=rules.max_file_bytes,
        )
        attachments = [attachment_of(stored)]
    outcome = await send_proactive(
        session,
        customer_id=appointment.customer_id,
        text_by_language=texts.confirmation_email(
            appointment,
            service,
            name=customer.name,
            business=rules.business_name,
            tz=rules.timezone,
        ),
        kind="confirmation_email",
        key=key,
        now=now,
        channels=rules.channels,
        prefer_channel="email",
        fallback=(),
        attachments=attachments,
        quiet_hours=rules.quiet_hours,
        data={"appointment_id": appointment.id},
    )
    if stored is not None and outcome.status != "queued":
        await session.delete(stored)  # nobody will send it
    return outcome


async def _confirm(
    session: AsyncSession,
    appointment: Appointment,
    service: Service,
    rules: AutomationRules,
    now: datetime,
    emailed: Outcome,
) -> Outcome:
    """The short confirmation on the customer's channel, unless a dialogue already gave it."""
    key = confirm_key(appointment)
    if appointment.channel in DIALOGUE_CHANNELS:
        await claim(
            session,
            key=key,
            kind="confirmation",
            customer_id=appointment.customer_id,
            outcome="skipped",
            data={"why": f"confirmed in the {appointment.channel} dialogue"},
        )
        return Outcome("skipped", key, reason="confirmed in the dialogue")
    if emailed.status == "deferred":
        return Outcome("deferred", key, reason="quiet hours")
    mailed = emailed.status == "queued" or (
        emailed.status == "already"
        and (run := await session.get(AutomationRun, emailed.key)) is not None
        and run.outcome == "queued"
    )
    return await send_proactive(
        session,
        customer_id=appointment.customer_id,
        text_by_language=texts.confirmation(
            appointment, service, business=rules.business_name, tz=rules.timezone
        ),
        kind="confirmation",
        key=key,
        now=now,
        channels=rules.channels,
        fallback=("sms",) if mailed else ("sms", "email"),
        quiet_hours=rules.quiet_hours,
        data={"appointment_id": appointment.id},
    )


async def reminders(db: Database, rules: AutomationRules, now: datetime, tally: Tally) -> None:
    """Each reminder hour before the start; when several are due (the process was down), only
    the latest one goes and the earlier ones are recorded as superseded."""
    if not rules.reminder_hours:
        return
    horizon = now + timedelta(hours=max(rules.reminder_hours))
    found = await _booked(db, Appointment.starts_at > now, Appointment.starts_at <= horizon)
    plans = {a.id: due_reminders(a, rules.reminder_hours, now) for a in found}
    taken = await _taken(db, [reminder_key(a, h) for a in found for h in plans[a.id]])
    for candidate in found:
        due = [h for h in plans[candidate.id] if reminder_key(candidate, h) not in taken]
        if not due:
            continue
        async with db.transaction() as session:
            appointment = await _locked(session, candidate.id)
            if appointment is None or appointment.starts_at != candidate.starts_at:
                continue
            latest, *earlier = plans[candidate.id]
            outcome = await _remind(session, appointment, latest, rules, now)
            tally("reminder", outcome)
            if outcome.status in ("queued", "skipped", "already"):
                for hours in earlier:
                    key = reminder_key(appointment, hours)
                    if await claim(
                        session,
                        key=key,
                        kind="reminder",
                        customer_id=appointment.customer_id,
                        outcome="skipped",
                        data={"why": f"superseded by the {hours_label(latest)} reminder"},
                    ):
                        tally("reminder", Outcome("skipped", key, reason="superseded"))


async def _remind(
    session: AsyncSession,
    appointment: Appointment,
    hours: float,
    rules: AutomationRules,
    now: datetime,
) -> Outcome:
    service = await session.get_one(Service, appointment.service_id)
    fallback = tuple(dict.fromkeys(c for c in (appointment.channel, "sms", "email") if c))
    return await send_proactive(
        session,
        customer_id=appointment.customer_id,
        text_by_language=texts.reminder(
            appointment, service, business=rules.business_name, tz=rules.timezone
        ),
        kind="reminder",
        key=reminder_key(appointment, hours),
        now=now,
        channels=rules.channels,
        fallback=fallback,
        quiet_hours=rules.quiet_hours,
        data={"appointment_id": appointment.id, "hours": hours},
    )


async def no_shows(db: Database, rules: AutomationRules, now: datetime, tally: Tally) -> None:
    """Booked appointments whose end plus the grace passed become no_show (a conditional update,
    so two workers mark each once; PostgreSQL workers also skip each other's rows)."""
    cutoff = now - rules.no_show_grace
    async with db.transaction() as session:
        stmt = (
            select(Appointment)
            .where(Appointment.status == "booked", Appointment.ends_at <= cutoff)
            .order_by(Appointment.ends_at, Appointment.id)
            .limit(BATCH)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for appointment in list((await session.execute(stmt)).scalars()):
            result = await session.execute(
                update(Appointment)
                .where(Appointment.id == appointment.id, Appointment.status == "booked")
                .values(status="no_show")
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                continue
            timeline.record(
                session,
                customer_id=appointment.customer_id,
                conversation_id=appointment.conversation_id,
                kind="appointment_no_show",
                actor_type="system",
                data={
                    "appointment_id": appointment.id,
                    "starts_at": appointment.starts_at.isoformat(),
                    "grace_minutes": rules.no_show_grace.total_seconds() / 60,
                },
            )
            tally("no_show", Outcome("marked", f"no_show:{appointment.id}"))
