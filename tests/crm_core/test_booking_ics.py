"""The .ics invitation: RFC 5545 structure, UTC times, folding, escaping, a stable UID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_core.booking.ics import escape, fold, invitation
from crm_core.models import Appointment, Service

STARTS = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City


def _appointment(status: str = "booked") -> tuple[Appointment, Service]:
    service = Service(
        key="facial",
        name_vi="Chăm sóc da mặt cơ bản, thư giãn; chuyên sâu \\ đặc biệt",
        name_en="Basic facial, relaxing",
        duration_minutes=60,
        price=450_000,
    )
    appointment = Appointment(
        id="a" * 32,
        customer_id="c" * 32,
        service_id="s" * 32,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=1),
        status=status,
        created_at=STARTS - timedelta(days=2),
        updated_at=STARTS - timedelta(days=1),
    )
    return appointment, service


def _unfold(raw: bytes) -> list[str]:
    return raw.decode().replace("\r\n ", "").split("\r\n")


def test_invitation_is_a_request_with_utc_times() -> None:
    appointment, service = _appointment()
    raw = invitation(
        appointment,
        service,
        business_name="Omni Spa & Clinic",
        organizer_email="booking@omni.example",
        timezone="Asia/Ho_Chi_Minh",
        language="en",
        attendee_email="lan@example.com",
        attendee_name="Nguyễn Thị Lan",
        now=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    )
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = _unfold(raw)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    for expected in (
        "VERSION:2.0",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "UID:appointment-" + "a" * 32 + "@omni.example",
        "DTSTAMP:20261122T120000Z",
        "DTSTART:20261124T030000Z",
        "DTEND:20261124T040000Z",
        "STATUS:CONFIRMED",
        'ORGANIZER;CN="Omni Spa & Clinic":mailto:booking@omni.example',
    ):
        assert expected in lines, expected
    summary = next(line for line in lines if line.startswith("SUMMARY"))
    assert (
        summary == "SUMMARY;LANGUAGE=en:Appointment: Basic facial\\, relaxing – Omni Spa & Clinic"
    )
    description = next(line for line in lines if line.startswith("DESCRIPTION"))
    assert "2026-11-24 10:00" in description  # the local time, for humans
    assert any(line.startswith("ATTENDEE") and "lan@example.com" in line for line in lines)


def test_vietnamese_summary_is_escaped_and_folded_at_75_octets() -> None:
    appointment, service = _appointment()
    raw = invitation(
        appointment,
        service,
        business_name="Omni Spa, Clinic",
        organizer_email="booking@omni.example",
        timezone="Asia/Ho_Chi_Minh",
        language="vi",
    )
    physical = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in physical)
    assert any(line.startswith(b" ") for line in physical)  # something was folded
    for line in physical:
        line.decode()  # never split inside a UTF-8 character
    summary = next(line for line in _unfold(raw) if line.startswith("SUMMARY"))
    assert summary == (
        "SUMMARY;LANGUAGE=vi:Lịch hẹn: Chăm sóc da mặt cơ bản\\, thư giãn\\; "
        "chuyên sâu \\\\ đặc biệt – Omni Spa\\, Clinic"
    )


def test_uid_is_stable_and_a_cancellation_cancels() -> None:
    appointment, service = _appointment()
    kwargs = {
        "business_name": "Omni",
        "organizer_email": "b@omni.example",
        "timezone": "Asia/Ho_Chi_Minh",
    }
    first = _unfold(invitation(appointment, service, **kwargs))  # type: ignore[arg-type]
    appointment.starts_at += timedelta(hours=2)
    appointment.ends_at += timedelta(hours=2)
    appointment.updated_at = STARTS
    moved = _unfold(invitation(appointment, service, **kwargs))  # type: ignore[arg-type]
    uid = [line for line in first if line.startswith("UID:")]
    assert uid == [line for line in moved if line.startswith("UID:")]

    def sequence(lines: list[str]) -> int:
        return int(next(line for line in lines if line.startswith("SEQUENCE:")).split(":")[1])

    assert sequence(moved) > sequence(first) >= 0  # the update supersedes the invitation
    assert "DTSTART:20261124T050000Z" in moved
    appointment.status = "cancelled"
    cancelled = _unfold(invitation(appointment, service, **kwargs))  # type: ignore[arg-type]
    assert "METHOD:CANCEL" in cancelled and "STATUS:CANCELLED" in cancelled


def test_escape_and_fold_helpers() -> None:
    assert escape("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    folded = fold("X" * 200)
    parts = folded.split(b"\r\n")
    assert [len(p) for p in parts] == [75, 75, 52, 0]
    assert folded.replace(b"\r\n ", b"") == b"X" * 200 + b"\r\n"
