"""The Slack bridge's pure parts: routes, durations, masking, the card, the message filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff import masking
from handoff.card import Card, IdentityRef
from handoff.slack import card as cards
from handoff.slack.app import build_bridge
from handoff.slack.durations import snooze_until
from handoff.slack.events import agent_message
from handoff.slack.routing import parse_routes
from tests.conftest import make_settings
from tests.fakes.slack import BOT_USER_ID
from tests.handoff.test_slack import INBOX, SECRET, TOKEN, reply_event

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 22:30 in Ho Chi Minh City


def test_routes_prefer_skill_then_channel_then_default() -> None:
    routes = parse_routes(" zalo=C0ZALO, sms=C0SMS ,skill:complaints=C0CARE", default=INBOX)
    assert routes.channel_for(channel="zalo", skill=None) == "C0ZALO"
    assert routes.channel_for(channel="zalo", skill="complaints") == "C0CARE"
    assert routes.channel_for(channel="telegram", skill="vip") == INBOX
    assert routes.all_channels() == {INBOX, "C0ZALO", "C0SMS", "C0CARE"}
    assert parse_routes("", default=INBOX).all_channels() == {INBOX}


@pytest.mark.parametrize(
    "spec", ["zalo", "zalo=", "zalo=#general", "=C0ZALO", "skill:=C0X", "zalo=C0A, zalo=C0B"]
)
def test_bad_routes_name_the_setting(spec: str) -> None:
    with pytest.raises(ValueError, match="OMNICRM_SLACK_ROUTES"):
        parse_routes(spec, default=INBOX)


def test_bad_routes_fail_at_start_up() -> None:
    values = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_inbox_channel": INBOX,
        "slack_routes": "zalo:C0ZALO",
    }
    with pytest.raises(ValueError, match="OMNICRM_SLACK_ROUTES"):
        make_settings("sqlite+aiosqlite:///:memory:", **values)
    good = make_settings("sqlite+aiosqlite:///:memory:", **{**values, "slack_routes": "zalo=C0Z"})
    assert build_bridge(good).channels == {INBOX, "C0Z"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("1d", NOW + timedelta(days=1)),
        ("tomorrow", datetime(2026, 11, 21, 2, 0, tzinfo=UTC)),  # 09:00 the next local day
    ],
)
def test_snooze_durations(spec: str, expected: datetime) -> None:
    assert snooze_until(spec, now=NOW, timezone=TZ) == expected


@pytest.mark.parametrize("spec", ["soon", "0m", "15d", "-1h", ""])
def test_bad_snooze_durations(spec: str) -> None:
    with pytest.raises(ValueError):
        snooze_until(spec, now=NOW, timezone=TZ)


def test_masking() -> None:
    assert masking.mask_phone("+84912345678") == "+8491****678"
    assert masking.mask_email("lan@example.com") == "l***@example.com"
    assert masking.mask_email("nonsense") == "***"


def _card() -> Card:
    return Card(
        conversation_id="c" * 32,
        customer_id="u" * 32,
        name="Lan <3",
        language="vi",
        lifecycle_stage="customer",
        identities=[IdentityRef(channel="zalo", external_id="1")],
        phones=["+84912345678"],
        emails=["lan@example.com"],
    )


def test_the_card_shows_snooze_and_loses_its_actions_when_resolved() -> None:
    until = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    snoozed = cards.CardState(status="agent", owner="Mai", snoozed_until=until)
    text = str(cards.card_blocks(_card(), snoozed, timezone=TZ, mask=True))
    assert "snoozed until 23:00" in text and "claimed by Mai" in text
    assert "+8491****678" in text and "+84912345678" not in text and "Lan &lt;3" in text
    assert cards.UNSNOOZE in text and cards.SNOOZE in text and cards.CLAIM not in text
    done = cards.CardState(status="resolved", owner="Mai")
    blocks = cards.card_blocks(_card(), done, timezone=TZ)
    assert not [b for b in blocks if b["type"] == "actions"]
    assert "resolved by Mai" in str(blocks)


def test_the_filter_takes_file_shares_but_no_other_subtype() -> None:
    files = [{"id": "F1", "name": "a.png"}]
    shared = {
        "event": {**reply_event("1.1", "", ts="2.2"), "subtype": "file_share", "files": files}
    }
    found = agent_message(shared, channels={INBOX}, bot_user_id=BOT_USER_ID)
    assert found is not None and found.files == tuple(files) and found.text == ""
    for subtype in ("bot_message", "thread_broadcast", "message_changed", "channel_join"):
        other = {"event": {**reply_event("1.1", "x", ts="2.2"), "subtype": subtype}}
        assert agent_message(other, channels={INBOX}, bot_user_id=BOT_USER_ID) is None
    routed = {"event": reply_event("1.1", "x", ts="2.2", channel="C0ZALO")}
    assert agent_message(routed, channels={INBOX, "C0ZALO"}, bot_user_id=BOT_USER_ID)
    assert agent_message(routed, channels={INBOX}, bot_user_id=BOT_USER_ID) is None
