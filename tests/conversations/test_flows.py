"""Flow engine pieces as units: templates (sandboxed), words, times, honorifics, state."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2.exceptions import SecurityError

from conversations.flows.base import FlowState
from conversations.flows.profile import honorific
from conversations.flows.templates import Templates
from conversations.flows.timefmt import day_text, price_text, when_text
from conversations.flows.words import is_no, is_stop, is_yes, number
from crm_core.models import Customer

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_templates_are_sandboxed_and_can_be_overridden(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yml"
    evil.write_text(
        'booked:\n  vi: "{{ hon.__class__.__mro__[1].__subclasses__() }}"\n', encoding="utf-8"
    )
    with pytest.raises(SecurityError):
        Templates.load(override=evil).render("booked", "vi", hon="bạn")
    nice = tmp_path / "nice.yml"
    nice.write_text('ask_name:\n  vi: "Anh/chị tên gì ạ, {{ hon }}?"\n', encoding="utf-8")
    templates = Templates.load(override=nice)
    assert templates.render("ask_name", "vi", hon="bạn") == "Anh/chị tên gì ạ, bạn?"
    assert templates.render("ask_name", "en", hon="you") == "May I have your name for the booking?"
    assert "<b>" in templates.render("unavailable", "en", when="<b>", slots="", Hon="You")


@pytest.mark.parametrize(
    ("text", "stop", "yes", "no"),
    [
        ("thôi", True, False, False),
        ("Thoi nhé!", True, False, False),
        ("stop it", True, False, False),
        ("huỷ", True, False, False),
        ("xác nhận", False, True, False),
        ("có ạ", False, True, False),
        ("OK", False, True, False),
        ("không", False, False, True),
        ("no", False, False, True),
        ("đặt lịch 9h", False, False, False),
    ],
)
def test_short_answers(text: str, stop: bool, yes: bool, no: bool) -> None:
    assert (is_stop(text), is_yes(text, ""), is_no(text, "")) == (stop, yes, no)


def test_numbers_times_and_prices() -> None:
    assert [number(t) for t in ("2", "số 3", "#1", "2 người", "")] == [2, 3, 1, None, None]
    at = datetime(2026, 11, 21, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert when_text(at, HCM, "vi") == "09:00 thứ Bảy 21/11"
    assert when_text(at, HCM, "en") == "09:00, Saturday 21 Nov"
    assert day_text(date(2026, 11, 22), "vi") == "Chủ nhật 22/11"
    assert price_text(300_000, "VND", "vi") == "300.000đ"
    assert price_text(300_000, "VND", "en") == "300,000 VND"


def test_honorific_from_the_profile() -> None:
    assert honorific(Customer(name="Lan", attributes={}), "vi") == "bạn"
    assert honorific(Customer(name="Lan", attributes={"gender": "female"}), "vi") == "chị"
    assert honorific(Customer(name="Minh", attributes={"honorific": "anh"}), "vi") == "anh"
    assert honorific(Customer(name="Nguyễn Văn Minh", attributes={}), "en") == "Minh"
    assert honorific(Customer(name=None, attributes={}), "en") == "you"


def test_flow_state_round_trips_and_ignores_garbage() -> None:
    state = FlowState("booking", "confirm", {"service": "x"}, "2026-11-20T03:00:00+00:00")
    assert FlowState.from_json(state.to_json()) == state
    assert FlowState.from_json(None) is None
    assert FlowState.from_json({"name": "booking"}) is None
    assert FlowState.from_json("junk") is None
    broken = FlowState.from_json({"name": "booking", "state": "x", "updated_at": "soon"})
    assert broken is not None and broken.touched() is None
