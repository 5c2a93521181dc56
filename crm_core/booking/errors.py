"""What can go wrong when booking; the flows and the API turn these into replies and statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_core.booking.availability import Slot


class BookingError(Exception):
    """Base of the booking errors."""


class UnknownService(BookingError):
    """No active service has that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"unknown service {key!r}")
        self.key = key


class UnknownStaff(BookingError):
    """No active staff member with that id gives the service."""

    def __init__(self, staff_id: str) -> None:
        super().__init__(f"no active staff member {staff_id!r} gives this service")
        self.staff_id = staff_id


class AppointmentNotFound(BookingError):
    def __init__(self, appointment_id: str) -> None:
        super().__init__(f"no appointment {appointment_id!r}")
        self.appointment_id = appointment_id


class NotBookable(BookingError):
    """The time can never be booked (closed, holiday, too soon, too far, off the grid).

    `reason` is a stable code: outside_hours, holiday, too_soon, too_far, off_grid,
    staff_unavailable, not_booked (the appointment is no longer `booked`), bad_status.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


class SlotTaken(BookingError):
    """Every resource that could give the service at that time is taken (possibly by a race);
    `alternatives` are the nearest free slots, best first."""

    def __init__(self, alternatives: list[Slot] | None = None) -> None:
        super().__init__("that time is already taken")
        self.alternatives: list[Slot] = alternatives or []
