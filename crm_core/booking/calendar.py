"""A snapshot of everything that decides whether a service can start at a time: its resources
(staff who give it, or seats), their hours, time off, holidays and the units already reserved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.booking.errors import UnknownService, UnknownStaff
from crm_core.booking.rules import BookingRules
from crm_core.hours import BusinessHours
from crm_core.models import AppointmentSlot, Holiday, Service, StaffMember, StaffTimeOff


@dataclass(frozen=True)
class Resource:
    """Something that can give one appointment at a time: "staff:<id>" or "service:<id>:<n>"."""

    key: str
    staff_id: str | None = None
    staff_name: str | None = None
    hours: BusinessHours | None = None  # the staff member's own hours; None: booking hours only


@dataclass
class Calendar:
    service: Service
    rules: BookingRules
    resources: list[Resource]
    holidays: set[date] = field(default_factory=set)
    time_off: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    taken: set[tuple[str, datetime]] = field(default_factory=set)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.service.duration_minutes)

    def units(self, starts_at: datetime) -> list[datetime]:
        """The grid units an appointment holds: [start, end + buffer), rounded up to the grid."""
        return units(self.service, starts_at, self.rules)

    def refusal(self, starts_at: datetime) -> str | None:
        """Why the service can never start then, whatever the resource (None: it can)."""
        if not self.rules.on_grid(starts_at):
            return "off_grid"
        local = self.rules.local(starts_at)
        if local.date() in self.holidays:
            return "holiday"
        if not _inside(self.rules.hours, starts_at, starts_at + self.duration):
            return "outside_hours"
        return None

    def resource_refusal(self, resource: Resource, starts_at: datetime) -> str | None:
        """Why this resource cannot take it (staff hours, time off, reserved units)."""
        ends_at = starts_at + self.duration
        if resource.hours is not None and not _inside(resource.hours, starts_at, ends_at):
            return "staff_unavailable"
        for off_start, off_end in self.time_off.get(resource.staff_id or "", []):
            if off_start < ends_at and starts_at < off_end:
                return "staff_unavailable"
        if any((resource.key, unit) in self.taken for unit in self.units(starts_at)):
            return "taken"
        return None

    def free_resources(self, starts_at: datetime) -> list[Resource]:
        if self.refusal(starts_at) is not None:
            return []
        return [r for r in self.resources if self.resource_refusal(r, starts_at) is None]


def units(service: Service, starts_at: datetime, rules: BookingRules) -> list[datetime]:
    span = service.duration_minutes + service.buffer_minutes
    count = max(1, math.ceil(span / rules.slot_minutes))
    return [starts_at + k * rules.slot for k in range(count)]


def _inside(hours: BusinessHours, starts_at: datetime, ends_at: datetime) -> bool:
    window = hours.window_on(starts_at.astimezone(hours.zone).date())
    return window is not None and window[0] <= starts_at and ends_at <= window[1]


async def active_service(session: AsyncSession, key: str) -> Service:
    service = await session.scalar(select(Service).where(Service.key == key))
    if service is None or not service.active:
        raise UnknownService(key)
    return service


async def resources_for(
    session: AsyncSession, service: Service, rules: BookingRules, staff_id: str | None = None
) -> list[Resource]:
    """Active staff who list the service (in the order they were added); with none, the
    service's own seats. A given staff_id narrows to that person."""
    stmt = select(StaffMember).where(StaffMember.active).order_by(StaffMember.created_at)
    staff = [m for m in (await session.execute(stmt)).scalars() if service.key in m.services]
    if staff_id is not None:
        chosen = [m for m in staff if m.id == staff_id]
        if not chosen:
            raise UnknownStaff(staff_id)
        staff = chosen
    if staff:
        return [
            Resource(
                key=f"staff:{m.id}",
                staff_id=m.id,
                staff_name=m.name,
                hours=BusinessHours.parse(m.hours, timezone=rules.zone.key) if m.hours else None,
            )
            for m in staff
        ]
    return [Resource(key=f"service:{service.id}:{n}") for n in range(max(1, service.capacity))]


async def load(
    session: AsyncSession,
    service: Service,
    rules: BookingRules,
    *,
    start: datetime,
    end: datetime,
    staff_id: str | None = None,
    ignore_appointment: str | None = None,
) -> Calendar:
    """The calendar for appointments starting in [start, end)."""
    resources = await resources_for(session, service, rules, staff_id)
    calendar = Calendar(service=service, rules=rules, resources=resources)
    span_end = end + timedelta(minutes=service.duration_minutes + service.buffer_minutes)
    first_day = rules.local(start).date() - timedelta(days=1)
    last_day = rules.local(span_end).date() + timedelta(days=1)
    days = select(Holiday.day).where(Holiday.day >= first_day, Holiday.day <= last_day)
    calendar.holidays = set((await session.execute(days)).scalars())
    staff_ids = [r.staff_id for r in resources if r.staff_id]
    if staff_ids:
        offs = select(StaffTimeOff).where(
            StaffTimeOff.staff_id.in_(staff_ids),
            StaffTimeOff.starts_at < span_end,
            StaffTimeOff.ends_at > start,
        )
        for off in (await session.execute(offs)).scalars():
            calendar.time_off.setdefault(off.staff_id, []).append((off.starts_at, off.ends_at))
    taken = select(AppointmentSlot.resource, AppointmentSlot.starts_at).where(
        AppointmentSlot.resource.in_([r.key for r in resources]),
        AppointmentSlot.starts_at >= start,
        AppointmentSlot.starts_at < span_end,
    )
    if ignore_appointment is not None:
        taken = taken.where(AppointmentSlot.appointment_id != ignore_appointment)
    calendar.taken = {(row[0], row[1]) for row in (await session.execute(taken)).all()}
    return calendar
