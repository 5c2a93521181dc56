"""Bookings: the service catalogue, availability and appointments with a database-enforced
no-double-booking guarantee. Every function works inside the caller's transaction and never
commits; build `BookingRules.from_settings(settings)` once in the composition root.

    rules = BookingRules.from_settings(settings)
    slots = await free_slots(session, service_key="skin_consultation", day_from=a, day_to=b,
                             rules=rules)
    try:
        appt = await book(session, customer_id=c, service_key="skin_consultation",
                          starts_at=slots[0].starts_at, rules=rules, conversation_id=conv,
                          channel="telegram")
    except SlotTaken as exc:        # exc.alternatives: nearest free Slots
    except NotBookable as exc:      # exc.reason: outside_hours|holiday|too_soon|too_far|...
    except UnknownService: ...

All datetimes are aware; slots and appointments come back in UTC (`rules.local(dt)` for the
business's zone). `now=` overrides the clock (tests, `--now`).
"""

from __future__ import annotations

from crm_core.booking.appointments import book, cancel, get, mark, reschedule, upcoming
from crm_core.booking.availability import Slot, free_slots, is_free, nearest_slots
from crm_core.booking.catalogue import active_services, find_service, fold, staff_for
from crm_core.booking.errors import (
    AppointmentNotFound,
    BookingError,
    NotBookable,
    SlotTaken,
    UnknownService,
    UnknownStaff,
)
from crm_core.booking.ics import invitation
from crm_core.booking.rules import BookingRules

__all__ = [
    "AppointmentNotFound",
    "BookingError",
    "BookingRules",
    "NotBookable",
    "Slot",
    "SlotTaken",
    "UnknownService",
    "UnknownStaff",
    "active_services",
    "book",
    "cancel",
    "find_service",
    "fold",
    "free_slots",
    "get",
    "invitation",
    "is_free",
    "mark",
    "nearest_slots",
    "reschedule",
    "staff_for",
    "upcoming",
]
