"""An RFC 5545 invitation (METHOD:REQUEST) for an appointment, attached to the confirmation
e-mail so the customer's calendar shows it; a later one with the same UID updates it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from crm_core.models import Appointment, Service
from crm_core.types import utcnow

PRODID = "-//omnicrm//bookings//EN"
_SUMMARY = {"vi": "Lịch hẹn: {service} – {business}", "en": "Appointment: {service} – {business}"}
_DESCRIPTION = {
    "vi": "{service} lúc {local} ({zone}). Mã lịch hẹn: {id}",
    "en": "{service} at {local} ({zone}). Booking reference: {id}",
}


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape(text: str) -> str:
    """TEXT escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> bytes:
    """Split a content line into ≤75-octet lines, never inside a UTF-8 character (§3.1)."""
    out: list[bytes] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > limit:
            out.append(current)
            current = b" "
            limit = 75  # the leading space counts toward the 75 octets
        current += encoded
    out.append(current)
    return b"\r\n".join(out) + b"\r\n"


def invitation(
    appointment: Appointment,
    service: Service,
    *,
    business_name: str,
    organizer_email: str,
    timezone: str,
    language: str = "vi",
    attendee_email: str | None = None,
    attendee_name: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The .ics bytes; a cancelled appointment gives METHOD:CANCEL / STATUS:CANCELLED.

    SEQUENCE follows `updated_at` (seconds), so a rescheduled invitation supersedes the old one.
    """
    lang = "en" if language == "en" else "vi"
    name = service.name_en if lang == "en" else service.name_vi
    cancelled = appointment.status == "cancelled"
    local = appointment.starts_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    domain = organizer_email.rpartition("@")[2] or "omnicrm"
    updated = appointment.updated_at or appointment.created_at or utcnow()
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'REQUEST'}",
        "BEGIN:VEVENT",
        f"UID:appointment-{appointment.id}@{domain}",
        f"DTSTAMP:{_utc(now or utcnow())}",
        f"SEQUENCE:{int(updated.timestamp()) - 1_600_000_000}",
        f"DTSTART:{_utc(appointment.starts_at)}",
        f"DTEND:{_utc(appointment.ends_at)}",
        f"SUMMARY;LANGUAGE={lang}:"
        + escape(_SUMMARY[lang].format(service=name, business=business_name)),
        f"DESCRIPTION;LANGUAGE={lang}:"
        + escape(
            _DESCRIPTION[lang].format(service=name, local=local, zone=timezone, id=appointment.id)
        ),
        f"LOCATION:{escape(business_name)}",
        f"ORGANIZER;CN={_param(business_name)}:mailto:{organizer_email}",
    ]
    if attendee_email:
        cn = f";CN={_param(attendee_name)}" if attendee_name else ""
        lines.append(f"ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=FALSE{cn}:mailto:{attendee_email}")
    lines += [
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(fold(line) for line in lines)


def _param(value: str) -> str:
    """A parameter value: quoted, without the characters a quoted value cannot hold."""
    cleaned = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{cleaned}"'
