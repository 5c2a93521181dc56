"""Ticket rules without a database: severity from wording and customer, SLA spec, labels."""

from __future__ import annotations

import pytest

from crm_core.models import Ticket
from crm_core.tickets import parse_sla_hours, severity_of, ticket_label
from crm_core.tickets_notify import notice_kind, notice_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tôi bị dị ứng sau khi dùng kem của spa", "urgent"),
        ("toi bi di ung sau khi dung kem", "urgent"),
        ("Da mặt bị bỏng sau khi laser", "urgent"),
        ("mat toi bi bong rat sau khi laser", "urgent"),
        ("Mặt sưng đỏ hết cả lên", "urgent"),
        ("mat sung do het ca len", "urgent"),
        ("Tôi sẽ kiện spa ra tòa", "urgent"),
        ("toi se kien spa ra toa", "urgent"),
        ("I had an allergic reaction to the cream", "urgent"),
        ("the laser left a burn on my face", "urgent"),
        ("my lawyer will contact you", "urgent"),
        ("Tôi muốn hoàn tiền ngay", "high"),
        ("toi muon hoan tien", "high"),
        ("Đây là lừa đảo", "high"),
        ("day la lua dao", "high"),
        ("I want a refund", "high"),
        ("this is a scam", "high"),
        ("Góp ý nhỏ: nhân viên hơi chậm", "low"),
        ("gop y: nhan vien hoi cham", "low"),
        ("minor suggestion about the music", "low"),
        ("Nhân viên đến trễ 20 phút", "normal"),
        ("the appointment started late", "normal"),
        # Folded words that only look alarming: "ý kiến" (opinion), "kiện hàng" (a parcel),
        # "bông" (cotton), "bóng đá" (football).
        ("cho toi y kien ve dich vu", "normal"),
        ("Kiện hàng giao chậm", "normal"),
        ("bong tay trang bi het", "normal"),
        ("xem bong da o sanh cho on", "normal"),
    ],
)
def test_severity_from_wording(text: str, expected: str) -> None:
    assert severity_of(text, lifetime_value=0, open_tickets=0) == expected


def test_customer_value_and_repeats_raise_but_never_make_urgent() -> None:
    text = "nhân viên đến trễ"
    assert severity_of(text, lifetime_value=20_000_000, open_tickets=0) == "high"
    assert severity_of(text, lifetime_value=0, open_tickets=1) == "high"
    assert severity_of("góp ý nhỏ", lifetime_value=20_000_000, open_tickets=0) == "normal"
    assert severity_of("góp ý nhỏ", lifetime_value=20_000_000, open_tickets=3) == "high"
    assert severity_of("refund", lifetime_value=20_000_000, open_tickets=3) == "high"
    assert severity_of("dị ứng", lifetime_value=0, open_tickets=0) == "urgent"
    assert severity_of("nhân viên đến trễ", lifetime_value=9_999_999, open_tickets=0) == "normal"


def test_sla_spec_parses_and_refuses_typos() -> None:
    assert parse_sla_hours("urgent=2, high=8, normal=24, low=72") == {
        "urgent": 2.0,
        "high": 8.0,
        "normal": 24.0,
        "low": 72.0,
    }
    assert parse_sla_hours("urgent=1")["urgent"] == 1.0
    assert parse_sla_hours({"low": 100})["low"] == 100.0
    assert parse_sla_hours(None)["normal"] == 24.0
    for bad in ("urgnt=2", "urgent=soon", "urgent=0", "urgent"):
        with pytest.raises(ValueError):
            parse_sla_hours(bad)


def test_label_pads_the_number() -> None:
    assert ticket_label(Ticket(number=123)) == "T-000123"
    assert ticket_label(Ticket(number=1234567)) == "T-1234567"


@pytest.mark.parametrize(
    ("previous", "status", "kind"),
    [
        ("new", "in_progress", "in_progress"),
        ("in_progress", "waiting_on_customer", "waiting_on_customer"),
        ("waiting_on_customer", "in_progress", None),
        ("in_progress", "resolved", "resolved"),
        ("resolved", "in_progress", "reopened"),
        ("resolved", "closed", None),
    ],
)
def test_which_moves_the_customer_hears_about(
    previous: str, status: str, kind: str | None
) -> None:
    assert notice_kind(previous, status) == kind


def test_notices_speak_the_customer_language() -> None:
    assert notice_text("in_progress", label="T-000123", language="vi").startswith(
        "Yêu cầu T-000123 của bạn đang được xử lý"
    )
    assert "T-000123 is being handled" in notice_text(
        "in_progress", label="T-000123", language="en"
    )
    assert "Yêu cầu" in notice_text("resolved", label="T-1", language="fr")
