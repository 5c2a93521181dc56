"""Bookings over REST: staff, holidays, availability and appointments (`/api/v1/...`).

Agents read and book for customers; supervisors manage staff and holidays. Times come back in
UTC (`starts_at`) and in the business's zone (`starts_at_local`, ISO with offset).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import booking
from crm_core.hours import BusinessHours
from crm_core.models import (
    Appointment,
    Customer,
    Holiday,
    Service,
    StaffMember,
    StaffTimeOff,
)
from crm_core.types import utcnow
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError, error_body
from omnicrm.runtime import Runtime

router = APIRouter(tags=["bookings"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
ServiceKeys = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)]


def rules_of(runtime: Runtime) -> booking.BookingRules:
    return booking.BookingRules.from_settings(runtime.settings)


# --- staff ---------------------------------------------------------------------------------


class StaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    services: ServiceKeys = []
    hours: str = Field(default="", max_length=300)
    active: bool = True


class StaffPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    services: ServiceKeys | None = None
    hours: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class TimeOffIn(BaseModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=200)


def _staff_out(member: StaffMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "services": member.services,
        "hours": member.hours,
        "active": member.active,
        "created_at": member.created_at,
    }


def _time_off_out(off: StaffTimeOff) -> dict[str, Any]:
    return {
        "id": off.id,
        "staff_id": off.staff_id,
        "starts_at": off.starts_at,
        "ends_at": off.ends_at,
        "reason": off.reason,
    }


async def _check_staff(session: AsyncSession, runtime: Runtime, values: dict[str, Any]) -> None:
    if values.get("hours"):
        try:
            BusinessHours.parse(values["hours"], timezone=runtime.settings.timezone)
        except ValueError as exc:
            raise ApiError(422, "invalid_hours", str(exc)) from exc
    if values.get("services"):
        known = set((await session.execute(select(Service.key))).scalars())
        unknown = sorted(set(values["services"]) - known)
        if unknown:
            raise ApiError(422, "unknown_service", f"unknown services: {', '.join(unknown)}")


@router.get("/staff")
async def list_staff(_: AgentDep, session: SessionDep) -> dict[str, Any]:
    """Everyone who gives services (inactive included, flagged); one page."""
    stmt = select(StaffMember).order_by(StaffMember.created_at, StaffMember.id)
    members = (await session.execute(stmt)).scalars()
    return {"items": [_staff_out(m) for m in members], "next_cursor": None}


@router.get("/staff/{staff_id}")
async def get_staff(staff_id: str, _: AgentDep, session: SessionDep) -> dict[str, Any]:
    """One staff member with their time off that has not ended yet."""
    member = await session.get(StaffMember, staff_id)
    if member is None:
        raise ApiError(404, "not_found", "no such staff member")
    offs = select(StaffTimeOff).where(
        StaffTimeOff.staff_id == staff_id, StaffTimeOff.ends_at > utcnow()
    )
    ordered = offs.order_by(StaffTimeOff.starts_at)
    out = _staff_out(member)
    out["time_off"] = [_time_off_out(o) for o in (await session.execute(ordered)).scalars()]
    return out


@router.post("/staff", status_code=status.HTTP_201_CREATED)
async def create_staff(body: StaffIn, _: SupervisorDep, runtime: RuntimeDep) -> dict[str, Any]:
    async with runtime.db.transaction() as session:
        await _check_staff(session, runtime, body.model_dump())
        member = StaffMember(**body.model_dump())
        session.add(member)
        await session.flush()
        return _staff_out(member)


@router.patch("/staff/{staff_id}")
async def update_staff(
    staff_id: str, body: StaffPatch, _: SupervisorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Change services, hours or deactivate; booked appointments stay booked."""
    changes = body.model_dump(exclude_unset=True)
    async with runtime.db.transaction() as session:
        member = await session.get(StaffMember, staff_id)
        if member is None:
            raise ApiError(404, "not_found", "no such staff member")
        await _check_staff(session, runtime, changes)
        for name, value in changes.items():
            if value is None:
                raise ApiError(422, "validation_error", f"{name}: may not be null")
            setattr(member, name, value)
        await session.flush()
        return _staff_out(member)


@router.post("/staff/{staff_id}/time-off", status_code=status.HTTP_201_CREATED)
async def add_time_off(
    staff_id: str, body: TimeOffIn, _: SupervisorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Block part of a staff member's calendar; existing appointments in it are not moved."""
    if body.ends_at <= body.starts_at:
        raise ApiError(422, "validation_error", "ends_at must be after starts_at")
    async with runtime.db.transaction() as session:
        if await session.get(StaffMember, staff_id) is None:
            raise ApiError(404, "not_found", "no such staff member")
        off = StaffTimeOff(staff_id=staff_id, **body.model_dump())
        session.add(off)
        await session.flush()
        return _time_off_out(off)


@router.delete("/staff/{staff_id}/time-off/{off_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_time_off(
    staff_id: str, off_id: str, _: SupervisorDep, runtime: RuntimeDep
) -> Response:
    async with runtime.db.transaction() as session:
        off = await session.get(StaffTimeOff, off_id)
        if off is None or off.staff_id != staff_id:
            raise ApiError(404, "not_found", "no such time off")
        await session.delete(off)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- holidays ------------------------------------------------------------------------------


class HolidayIn(BaseModel):
    day: date
    name: str = Field(min_length=1, max_length=200)


def _holiday_out(holiday: Holiday) -> dict[str, Any]:
    return {"id": holiday.id, "day": holiday.day.isoformat(), "name": holiday.name}


@router.get("/holidays")
async def list_holidays(
    _: AgentDep,
    session: SessionDep,
    since: Annotated[date | None, Query(alias="from")] = None,
) -> dict[str, Any]:
    """Days the business is closed, by date (from a date on, when given)."""
    stmt = select(Holiday).order_by(Holiday.day)
    if since is not None:
        stmt = stmt.where(Holiday.day >= since)
    rows = (await session.execute(stmt)).scalars()
    return {"items": [_holiday_out(h) for h in rows], "next_cursor": None}


@router.post("/holidays", status_code=status.HTTP_201_CREATED)
async def create_holiday(body: HolidayIn, _: SupervisorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Close a day; appointments already booked on it are not cancelled (list and tell them)."""
    try:
        async with runtime.db.transaction() as session:
            holiday = Holiday(day=body.day, name=body.name)
            session.add(holiday)
            await session.flush()
            return _holiday_out(holiday)
    except IntegrityError as exc:
        raise ApiError(409, "holiday_exists", f"{body.day} is already a holiday") from exc


@router.delete("/holidays/{holiday_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_holiday(holiday_id: str, _: SupervisorDep, runtime: RuntimeDep) -> Response:
    async with runtime.db.transaction() as session:
        holiday = await session.get(Holiday, holiday_id)
        if holiday is None:
            raise ApiError(404, "not_found", "no such holiday")
        await session.delete(holiday)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- availability --------------------------------------------------------------------------


def _slot_out(slot: booking.Slot, rules: booking.BookingRules) -> dict[str, Any]:
    return {
        "starts_at": rules.local(slot.starts_at).isoformat(),
        "ends_at": rules.local(slot.ends_at).isoformat(),
        "starts_at_utc": slot.starts_at.isoformat(),
        "staff_id": slot.staff_id,
        "staff_name": slot.staff_name,
    }


@router.get("/availability")
async def availability(
    _: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    service: Annotated[str, Query(max_length=64)],
    day: Annotated[date, Query(alias="date")],
    staff_id: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Free start times of one local day for a service (optionally with one staff member)."""
    rules = rules_of(runtime)
    midnight = datetime.combine(day, time(0), tzinfo=rules.zone)
    try:
        slots = await booking.free_slots(
            session,
            service_key=service,
            day_from=midnight,
            day_to=midnight + timedelta(days=1),
            rules=rules,
            staff_id=staff_id,
        )
    except booking.BookingError as exc:
        raise _api_error(exc) from exc
    return {
        "service": service,
        "date": day.isoformat(),
        "timezone": rules.zone.key,
        "items": [_slot_out(s, rules) for s in slots],
        "next_cursor": None,
    }


# --- appointments --------------------------------------------------------------------------


class AppointmentIn(BaseModel):
    customer_id: str = Field(max_length=32)
    service: str = Field(max_length=64)
    starts_at: AwareDatetime
    staff_id: str | None = Field(default=None, max_length=32)
    notes: str | None = Field(default=None, max_length=2000)
    conversation_id: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=20)


class AppointmentPatch(BaseModel):
    starts_at: AwareDatetime | None = None
    staff_id: str | None = Field(default=None, max_length=32)
    status: Literal["cancelled", "completed", "no_show"] | None = None
    reason: str | None = Field(default=None, max_length=500)


def _api_error(exc: booking.BookingError) -> ApiError:
    if isinstance(exc, booking.UnknownService):
        return ApiError(422, "unknown_service", str(exc))
    if isinstance(exc, booking.UnknownStaff):
        return ApiError(422, "unknown_staff", str(exc))
    if isinstance(exc, booking.AppointmentNotFound):
        return ApiError(404, "not_found", "no such appointment")
    if isinstance(exc, booking.NotBookable):
        code = "conflict" if exc.reason in ("not_booked", "bad_status") else "not_bookable"
        return ApiError(409 if code == "conflict" else 422, code, exc.message)
    return ApiError(409, "conflict", str(exc))


def _refusal(exc: booking.BookingError, rules: booking.BookingRules) -> JSONResponse:
    """slot_taken (409) carries the nearest alternatives, not_bookable (422) its reason."""
    if isinstance(exc, booking.SlotTaken):
        times = ", ".join(rules.local(s.starts_at).isoformat() for s in exc.alternatives)
        message = "that time is already taken" + (f"; nearest free: {times}" if times else "")
        alternatives = [_slot_out(s, rules) for s in exc.alternatives]
        error = {"code": "slot_taken", "message": message, "alternatives": alternatives}
        return JSONResponse({"error": error}, status_code=409)
    if isinstance(exc, booking.NotBookable) and exc.reason not in ("not_booked", "bad_status"):
        error = {"code": "not_bookable", "message": exc.message, "reason": exc.reason}
        return JSONResponse({"error": error}, status_code=422)
    known = _api_error(exc)
    return JSONResponse(error_body(known.code, known.message), status_code=known.status_code)


async def _present(
    session: AsyncSession, rows: list[Appointment], rules: booking.BookingRules
) -> list[dict[str, Any]]:
    service_ids = {a.service_id for a in rows}
    staff_ids = {a.staff_id for a in rows if a.staff_id}
    services = {
        s.id: s
        for s in (await session.execute(select(Service).where(Service.id.in_(service_ids))))
        .scalars()
        .all()
    }
    staff = {
        m.id: m.name
        for m in (await session.execute(select(StaffMember).where(StaffMember.id.in_(staff_ids))))
        .scalars()
        .all()
    }
    out = []
    for a in rows:
        service = services[a.service_id]
        out.append(
            {
                "id": a.id,
                "customer_id": a.customer_id,
                "conversation_id": a.conversation_id,
                "service": service.key,
                "service_name_vi": service.name_vi,
                "service_name_en": service.name_en,
                "staff_id": a.staff_id,
                "staff_name": staff.get(a.staff_id) if a.staff_id else None,
                "starts_at": a.starts_at.astimezone(UTC).isoformat(),
                "starts_at_local": rules.local(a.starts_at).isoformat(),
                "ends_at": a.ends_at.astimezone(UTC).isoformat(),
                "ends_at_local": rules.local(a.ends_at).isoformat(),
                "status": a.status,
                "channel": a.channel,
                "notes": a.notes,
                "created_at": a.created_at.isoformat(),
                "updated_at": a.updated_at.isoformat(),
                "cancelled_at": a.cancelled_at.isoformat() if a.cancelled_at else None,
            }
        )
    return out


@router.get("/appointments")
async def list_appointments(
    _: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    customer_id: Annotated[str | None, Query(max_length=32)] = None,
    status_: Annotated[
        Literal["booked", "completed", "cancelled", "no_show"] | None, Query(alias="status")
    ] = None,
    staff_id: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Newest booking first; `from`/`to` bound the start time ([from, to))."""
    stmt = select(Appointment)
    if customer_id is not None:
        stmt = stmt.where(Appointment.customer_id == customer_id)
    if status_ is not None:
        stmt = stmt.where(Appointment.status == status_)
    if staff_id is not None:
        stmt = stmt.where(Appointment.staff_id == staff_id)
    if since is not None:
        stmt = stmt.where(Appointment.starts_at >= since)
    if until is not None:
        stmt = stmt.where(Appointment.starts_at < until)
    page = await pagination.fetch(
        session, stmt, Appointment, cursor=cursor, limit=limit, descending=True
    )
    page["items"] = await _present(session, page["items"], rules_of(runtime))
    return page


@router.get("/appointments/{appointment_id}")
async def get_appointment(
    appointment_id: str, _: AgentDep, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        raise ApiError(404, "not_found", "no such appointment")
    [out] = await _present(session, [appointment], rules_of(runtime))
    return out


@router.post("/appointments", status_code=status.HTTP_201_CREATED, response_model=None)
async def create_appointment(
    body: AppointmentIn, who: AgentDep, runtime: RuntimeDep
) -> dict[str, Any] | JSONResponse:
    """Book for a customer: 409 slot_taken (with alternatives), 422 not_bookable (with reason)."""
    rules = rules_of(runtime)
    async with runtime.db.transaction() as session:
        if await session.get(Customer, body.customer_id) is None:
            raise ApiError(422, "unknown_customer", "customer_id: no such customer")
        try:
            appointment = await booking.book(
                session,
                customer_id=body.customer_id,
                service_key=body.service,
                starts_at=body.starts_at,
                rules=rules,
                staff_id=body.staff_id,
                conversation_id=body.conversation_id,
                channel=body.channel,
                notes=body.notes,
                actor_type=who.kind,
                actor_id=who.id,
            )
        except booking.BookingError as exc:
            return _refusal(exc, rules)
        [out] = await _present(session, [appointment], rules)
        return out


@router.patch("/appointments/{appointment_id}", response_model=None)
async def update_appointment(
    appointment_id: str, body: AppointmentPatch, who: AgentDep, runtime: RuntimeDep
) -> dict[str, Any] | JSONResponse:
    """Either move it (`starts_at`, optionally `staff_id`) or close it (`status`)."""
    if (body.starts_at is None) == (body.status is None):
        raise ApiError(422, "validation_error", "send either starts_at or status")
    rules = rules_of(runtime)
    async with runtime.db.transaction() as session:
        try:
            if body.starts_at is not None:
                appointment = await booking.reschedule(
                    session,
                    appointment_id,
                    starts_at=body.starts_at,
                    rules=rules,
                    actor_type=who.kind,
                    actor_id=who.id,
                    staff_id=body.staff_id,
                )
            elif body.status == "cancelled":
                appointment = await booking.cancel(
                    session,
                    appointment_id,
                    actor_type=who.kind,
                    actor_id=who.id,
                    reason=body.reason,
                )
            else:
                assert body.status is not None
                appointment = await booking.mark(
                    session, appointment_id, body.status, actor_type=who.kind, actor_id=who.id
                )
        except booking.BookingError as exc:
            return _refusal(exc, rules)
        [out] = await _present(session, [appointment], rules)
        return out
