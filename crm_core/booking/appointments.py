"""Book, reschedule, cancel and close appointments inside the caller's transaction.

The guarantee against double booking is the primary key of `appointment_slots` (resource,
unit start): each booking inserts one row per grid unit it holds, in a SAVEPOINT, so a racing
booking of the same resource fails on the key, whatever the reads said before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.booking import calendar as cal
from crm_core.booking.availability import nearest_slots, window_refusal
from crm_core.booking.errors import AppointmentNotFound, NotBookable, SlotTaken
from crm_core.booking.rules import BookingRules
from crm_core.models import Appointment, AppointmentSlot, Service
from crm_core.types import utcnow

CLOSING_STATUSES = ("completed", "no_show", "cancelled")

_MESSAGES = {
    "off_grid": "appointments start on the {slot}-minute grid",
    "holiday": "the business is closed that day (holiday)",
    "outside_hours": "outside the booking hours",
    "too_soon": "too soon: book at least {lead} minutes ahead",
    "too_far": "too far ahead: bookings open {horizon} days in advance",
    "staff_unavailable": "the staff member is not working then",
}


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("booking times must be timezone-aware")
    return at.astimezone(UTC)


def _not_bookable(reason: str, rules: BookingRules) -> NotBookable:
    message = _MESSAGES.get(reason, reason).format(
        slot=rules.slot_minutes, lead=rules.lead_minutes, horizon=rules.horizon_days
    )
    return NotBookable(reason, message)


async def _candidates(
    session: AsyncSession,
    service: Service,
    starts_at: datetime,
    rules: BookingRules,
    *,
    staff_id: str | None,
    now: datetime,
    ignore_appointment: str | None = None,
    prefer: str | None = None,
) -> list[cal.Resource]:
    """Resources to try, free-looking ones first; raises NotBookable when none could ever be."""
    reason = window_refusal(rules, starts_at, now)
    if reason:
        raise _not_bookable(reason, rules)
    calendar = await cal.load(
        session,
        service,
        rules,
        start=starts_at,
        end=starts_at + timedelta(microseconds=1),
        staff_id=staff_id,
        ignore_appointment=ignore_appointment,
    )
    reason = calendar.refusal(starts_at)
    if reason:
        raise _not_bookable(reason, rules)
    refusals = {r.key: calendar.resource_refusal(r, starts_at) for r in calendar.resources}
    usable = [r for r in calendar.resources if refusals[r.key] in (None, "taken")]
    if not usable:
        raise _not_bookable("staff_unavailable", rules)
    # Free-looking first (the preferred one before the others); "taken" ones are still tried:
    # the key, not this read, is what decides.
    return sorted(usable, key=lambda r: (refusals[r.key] is not None, r.key != prefer))


async def _reserve(
    session: AsyncSession, appointment_id: str, resource: str, unit_starts: list[datetime]
) -> None:
    rows = [
        {"resource": resource, "starts_at": unit, "appointment_id": appointment_id}
        for unit in unit_starts
    ]
    await session.execute(insert(AppointmentSlot), rows)


async def _alternatives(
    session: AsyncSession,
    service: Service,
    starts_at: datetime,
    rules: BookingRules,
    staff_id: str | None,
    now: datetime,
) -> SlotTaken:
    slots = await nearest_slots(
        session,
        service_key=service.key,
        around=starts_at,
        rules=rules,
        staff_id=staff_id,
        now=now,
    )
    return SlotTaken(slots)


async def book(
    session: AsyncSession,
    *,
    customer_id: str,
    service_key: str,
    starts_at: datetime,
    rules: BookingRules,
    staff_id: str | None = None,
    conversation_id: str | None = None,
    channel: str | None = None,
    notes: str | None = None,
    actor_type: str = "customer",
    actor_id: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book the service at `starts_at` with the given staff member or the first free one.

    Raises UnknownService, UnknownStaff, NotBookable(reason) or SlotTaken(alternatives).
    Never commits: the caller's transaction does.
    """
    now, starts_at = now or utcnow(), _utc(starts_at)
    service = await cal.active_service(session, service_key)
    resources = await _candidates(session, service, starts_at, rules, staff_id=staff_id, now=now)
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    unit_starts = cal.units(service, starts_at, rules)
    for resource in resources:
        appointment = Appointment(
            customer_id=customer_id,
            conversation_id=conversation_id,
            service_id=service.id,
            staff_id=resource.staff_id,
            starts_at=starts_at,
            ends_at=ends_at,
            status="booked",
            channel=channel,
            notes=notes,
        )
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
                await _reserve(session, appointment.id, resource.key, unit_starts)
        except IntegrityError:
            continue  # someone holds a unit of this resource: the next one, or SlotTaken
        timeline.record(
            session,
            customer_id=customer_id,
            conversation_id=conversation_id,
            kind="appointment_booked",
            actor_type=actor_type,
            actor_id=actor_id,
            data=_event_data(appointment, service, resource),
        )
        return appointment
    raise await _alternatives(session, service, starts_at, rules, staff_id, now)


def _event_data(
    appointment: Appointment, service: Service, resource: cal.Resource | None = None
) -> dict[str, object]:
    data: dict[str, object] = {
        "appointment_id": appointment.id,
        "service": service.key,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "staff_id": appointment.staff_id,
    }
    if resource is not None and resource.staff_name:
        data["staff_name"] = resource.staff_name
    return data


async def get(session: AsyncSession, appointment_id: str) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    return appointment


async def reschedule(
    session: AsyncSession,
    appointment_id: str,
    *,
    starts_at: datetime,
    rules: BookingRules,
    actor_type: str = "customer",
    actor_id: str | None = None,
    staff_id: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Move a booked appointment, all or nothing: its old units are released and the new ones
    taken in one savepoint, so SlotTaken/NotBookable leave the old booking as it was.

    The current staff member is tried first, then the others who give the service (unless
    `staff_id` pins one)."""
    now, starts_at = now or utcnow(), _utc(starts_at)
    appointment = await get(session, appointment_id)
    if appointment.status != "booked":
        raise NotBookable("not_booked", f"the appointment is {appointment.status}")
    service = await session.get(Service, appointment.service_id)
    assert service is not None  # RESTRICT keeps it
    old_start = appointment.starts_at
    resources = await _candidates(
        session,
        service,
        starts_at,
        rules,
        staff_id=staff_id,
        now=now,
        ignore_appointment=appointment.id,
        prefer=f"staff:{appointment.staff_id}" if appointment.staff_id else None,
    )
    unit_starts = cal.units(service, starts_at, rules)
    held = appointment.id
    for resource in resources:
        try:
            async with session.begin_nested():
                await session.execute(
                    delete(AppointmentSlot).where(AppointmentSlot.appointment_id == held)
                )
                await _reserve(session, held, resource.key, unit_starts)
        except IntegrityError:
            continue
        appointment.starts_at = starts_at
        appointment.ends_at = starts_at + timedelta(minutes=service.duration_minutes)
        appointment.staff_id = resource.staff_id
        appointment.updated_at = utcnow()
        data = _event_data(appointment, service, resource)
        data["previous_starts_at"] = old_start.isoformat()
        timeline.record(
            session,
            customer_id=appointment.customer_id,
            conversation_id=appointment.conversation_id,
            kind="appointment_rescheduled",
            actor_type=actor_type,
            actor_id=actor_id,
            data=data,
        )
        await session.flush()
        return appointment
    await session.refresh(appointment)
    raise await _alternatives(session, service, starts_at, rules, staff_id, now)


async def cancel(
    session: AsyncSession,
    appointment_id: str,
    *,
    actor_type: str,
    actor_id: str | None = None,
    reason: str | None = None,
) -> Appointment:
    """Cancel a booked appointment and free its units at once (idempotent when cancelled)."""
    appointment = await get(session, appointment_id)
    if appointment.status == "cancelled":
        return appointment
    if appointment.status != "booked":
        raise NotBookable("not_booked", f"the appointment is {appointment.status}")
    await session.execute(
        delete(AppointmentSlot).where(AppointmentSlot.appointment_id == appointment.id)
    )
    appointment.status = "cancelled"
    appointment.cancelled_at = utcnow()
    service = await session.get(Service, appointment.service_id)
    assert service is not None
    data = _event_data(appointment, service)
    if reason:
        data["reason"] = reason
    timeline.record(
        session,
        customer_id=appointment.customer_id,
        conversation_id=appointment.conversation_id,
        kind="appointment_cancelled",
        actor_type=actor_type,
        actor_id=actor_id,
        data=data,
    )
    await session.flush()
    return appointment


async def mark(
    session: AsyncSession,
    appointment_id: str,
    status: str,
    *,
    actor_type: str = "system",
    actor_id: str | None = None,
) -> Appointment:
    """Close a booked appointment as `completed` or `no_show` (its units stay reserved: the
    time was used). Marking it again with the same status changes nothing."""
    if status not in ("completed", "no_show"):
        raise NotBookable("bad_status", "status must be completed or no_show")
    appointment = await get(session, appointment_id)
    if appointment.status == status:
        return appointment
    if appointment.status != "booked":
        raise NotBookable("not_booked", f"the appointment is {appointment.status}")
    appointment.status = status
    service = await session.get(Service, appointment.service_id)
    assert service is not None
    timeline.record(
        session,
        customer_id=appointment.customer_id,
        conversation_id=appointment.conversation_id,
        kind=f"appointment_{status}",
        actor_type=actor_type,
        actor_id=actor_id,
        data=_event_data(appointment, service),
    )
    await session.flush()
    return appointment


async def upcoming(
    session: AsyncSession, customer_id: str, *, now: datetime | None = None
) -> list[Appointment]:
    """The customer's booked appointments that have not started yet, soonest first."""
    stmt = (
        select(Appointment)
        .where(
            Appointment.customer_id == customer_id,
            Appointment.status == "booked",
            Appointment.starts_at >= (now or utcnow()),
        )
        .order_by(Appointment.starts_at)
    )
    return list((await session.execute(stmt)).scalars())
