"""The Slack agent inbox end to end: Telegram customer ↔ fake Slack threads, signed like Slack."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import Conversation, Message, TimelineEvent
from handoff.slack import card as cards
from handoff.slack import format as fmt
from handoff.slack.events import agent_message
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.slack import BOT_ID, BOT_USER_ID, FakeSlack, sign
from tests.fakes.telegram import FakeTelegram

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test"
INBOX = "C0INBOX"


@dataclass
class Slacked:
    """The running app, the fake Slack behind it, and Slack-signed request helpers."""

    app: Harness
    slack: FakeSlack

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str,
        retry: int | None = None,
        timestamp: int | None = None,
        secret: str | None = SECRET,
    ) -> httpx.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T0TEAM001",
                "api_app_id": "A0APP0001",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers.update(sign(secret, body, timestamp=timestamp))
        if retry is not None:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"})
        return await self.app.client.post("/webhooks/slack/events", content=body, headers=headers)

    async def click(self, action_id: str, conversation_id: str, user: str) -> httpx.Response:
        parent = self.parent_ts()
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM001"},
            "team": {"id": "T0TEAM001"},
            "api_app_id": "A0APP0001",
            "token": "legacy",
            "container": {"type": "message", "message_ts": parent, "channel_id": INBOX},
            "channel": {"id": INBOX},
            "message": {"ts": parent, "type": "message"},
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "acts",
                    "value": conversation_id,
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
        return await self.app.client.post(
            "/webhooks/slack/interactions", content=body, headers=headers
        )

    async def command(self, text: str, *, user: str = "U0MAI0001") -> httpx.Response:
        """`/omnicrm <text>` as Slack posts it: a signed form body to the events URL."""
        form = {
            "token": "legacy",
            "team_id": "T0TEAM001",
            "team_domain": "spa",
            "channel_id": INBOX,
            "channel_name": "inbox",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/omnicrm",
            "text": text,
            "api_app_id": "A0APP0001",
            "is_enterprise_install": "false",
            "response_url": f"{self.slack.url}/commands/T0TEAM001/1/abc",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
        return await self.app.client.post("/webhooks/slack/events", content=body, headers=headers)

    async def select(
        self, action_id: str, value: str, user: str, *, channel: str = INBOX
    ) -> httpx.Response:
        """A static_select choice on the card, as block_actions carries it."""
        parent = self.parent_ts()
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM001"},
            "team": {"id": "T0TEAM001"},
            "api_app_id": "A0APP0001",
            "container": {"type": "message", "message_ts": parent, "channel_id": channel},
            "channel": {"id": channel},
            "message": {"ts": parent, "type": "message"},
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "static_select",
                    "action_id": action_id,
                    "block_id": "omnicrm_actions",
                    "selected_option": option,
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
        return await self.app.client.post(
            "/webhooks/slack/interactions", content=body, headers=headers
        )

    def parent_ts(self) -> str:
        """The card's `ts`, as the thread replies under it name it."""
        replies = [p for p in self.slack.of("chat.postMessage") if p.get("thread_ts")]
        return str(replies[0]["thread_ts"])


def reply_event(
    thread_ts: str, text: str, *, user: str = "U0MAI0001", ts: str = "", channel: str = INBOX
) -> Any:
    """A human's thread reply as Slack's GenericMessageEvent carries it."""
    return {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts or f"{time.time():.6f}",
        "thread_ts": thread_ts,
        "parent_user_id": BOT_USER_ID,
        "channel": channel,
        "channel_type": "channel",
        "client_msg_id": "6c1f1d8e-0000-4000-8000-000000000001",
    }


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack(token=TOKEN).start()
    fake.add_user("U0MAI0001", real_name="Mai Tran", email="Mai@Example.com")
    fake.add_user("U0HUNG001", real_name="Hung Le", email="hung@example.com")
    fake.add_user("U0GUEST01", real_name="Guest Person", email="guest@elsewhere.com")
    yield fake
    await fake.stop()


@asynccontextmanager
async def slack_app(
    database_url: str, telegram: FakeTelegram, slack: FakeSlack, **overrides: Any
) -> Any:
    """The app as users run it: create_app mounts the Slack webhooks and runs the inbox."""
    settings = make_settings(
        database_url,
        telegram.url,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_inbox_channel=INBOX,
        slack_api_base=slack.url + "/",
        slack_sync_seconds=0.1,
        **overrides,
    )
    async with running_app(settings) as harness:
        yield Slacked(harness, slack)


@pytest.fixture
async def env(
    database_url: str, fake_telegram: FakeTelegram, fake_slack: FakeSlack
) -> AsyncIterator[Slacked]:
    async with slack_app(database_url, fake_telegram, fake_slack) as running:
        async with running.app.runtime.db.transaction() as session:
            await create_agent(
                session,
                email="mai@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name="Mai",
            )
            await create_agent(
                session,
                email="hung@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name="Hung",
            )
        yield running


async def hand_off(
    env: Slacked, telegram: FakeTelegram, *, channel: str = INBOX
) -> tuple[str, str]:
    """A Telegram customer asks for a human; returns (conversation id, thread ts)."""
    await env.app.telegram(updates.text_update(710001, "cho mình gặp nhân viên"))
    await telegram.wait_for_sent(1)
    await env.app.settle()
    [conversation] = (await env.app.get("/api/v1/conversations", status="waiting_agent")).json()[
        "items"
    ]
    await env.slack.wait_for("chat.postMessage", 2)
    [card] = env.slack.posts()
    thread_ts = next(p["thread_ts"] for p in env.slack.of("chat.postMessage") if "thread_ts" in p)
    assert card["channel"] == channel
    return conversation["id"], thread_ts


async def status_of(env: Slacked, conversation_id: str) -> str:
    async with env.app.runtime.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.status


async def test_a_handoff_opens_one_thread_with_card_and_transcript(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    [card] = env.slack.posts()
    assert "Lan" in card["text"]
    buttons = [
        b for block in card["blocks"] if block["type"] == "actions" for b in block["elements"]
    ]
    assert {b["action_id"] for b in buttons} == {
        cards.CLAIM,
        cards.RESOLVE,
        cards.RETURN,
        cards.SNOOZE,
    }
    assert {b["value"] for b in buttons if b["type"] == "button"} == {conversation_id}
    [menu] = [b for b in buttons if b["type"] == "static_select"]
    values = [option["value"] for option in menu["options"]]
    assert values == [f"{conversation_id}|{d}" for d in ("30m", "1h", "4h", "tomorrow")]
    card_text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "telegram" in card_text and "Lifetime value" in card_text
    [transcript] = env.slack.posts(thread_ts=thread_ts)
    assert "cho mình gặp nhân viên" in transcript["text"]

    await env.app.telegram(updates.text_update(710002, "a <b> & <!channel> c"))
    await env.app.settle()
    await env.slack.wait_for("chat.postMessage", 3)
    await asyncio.sleep(0.4)  # several more sync passes: nothing is posted twice
    posts = env.slack.of("chat.postMessage")
    assert len(env.slack.posts()) == 1 and len(posts) == 3
    assert posts[-1]["thread_ts"] == thread_ts
    assert "a &lt;b&gt; &amp; &lt;!channel&gt; c" in posts[-1]["text"]
    assert "<!channel>" not in posts[-1]["text"]


async def test_an_agent_thread_reply_reaches_the_customer_once(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    event = reply_event(thread_ts, "Chào chị &amp; xem <https://spa.vn/gia|bảng giá> ạ")
    first = await env.event(event, event_id="Ev0REPLY01")
    assert first.status_code == 200
    retried = await env.event(event, event_id="Ev0REPLY01", retry=1)
    assert retried.status_code == 200
    sent = await fake_telegram.wait_for_sent(2)
    assert sent[-1]["text"] == "Chào chị & xem bảng giá (https://spa.vn/gia) ạ"
    await env.app.settle()
    await asyncio.sleep(0.4)
    assert len(fake_telegram.sent()) == 2
    assert await status_of(env, conversation_id) == "agent"
    assert await env.app.count(Message, direction="out", author_type="agent") == 1

    note = reply_event(thread_ts, "note: khách VIP", ts="1795000500.000100")
    assert (await env.event(note, event_id="Ev0NOTE001")).status_code == 200
    await env.app.telegram(updates.text_update(710003, "dạ vâng"))
    await env.app.settle()
    await env.slack.wait_for("chat.postMessage", 3)  # the customer's answer is mirrored
    await asyncio.sleep(0.4)
    assert len(fake_telegram.sent()) == 2  # the bot stays silent, the note went nowhere
    assert await env.app.count(TimelineEvent, kind="note") == 1


async def test_echoes_edits_top_level_and_unsigned_requests_change_nothing(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    _, thread_ts = await hand_off(env, fake_telegram)
    echo = {**reply_event(thread_ts, "echo"), "user": BOT_USER_ID, "bot_id": BOT_ID}
    other_bot = {**reply_event(thread_ts, "other bot"), "bot_id": "B0OTHER01"}
    edited = {
        **reply_event(thread_ts, "edited"),
        "subtype": "message_changed",
        "hidden": True,
        "message": {"text": "edited"},
    }
    top_level = {k: v for k, v in reply_event(thread_ts, "hello all").items() if k != "thread_ts"}
    parent = {**reply_event(thread_ts, "parent"), "ts": thread_ts}
    unknown = reply_event("1700000000.000001", "unknown thread")
    for number, event in enumerate([echo, other_bot, edited, top_level, parent, unknown]):
        answer = await env.event(event, event_id=f"Ev0IGNORE{number}")
        assert answer.status_code == 200
    real = reply_event(thread_ts, "real")
    stale = await env.event(real, event_id="Ev0STALE01", timestamp=int(time.time()) - 600)
    unsigned = await env.event(real, event_id="Ev0UNSIGN1", secret=None)
    forged = await env.event(real, event_id="Ev0FORGED1", secret="not-the-secret")
    assert {stale.status_code, unsigned.status_code, forged.status_code} <= {401, 403}
    await asyncio.sleep(0.5)
    await env.app.settle()
    assert len(fake_telegram.sent()) == 1
    assert await env.app.count(Message, direction="out", author_type="agent") == 0

    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2r", "type": "url_verification"})
    headers = {"Content-Type": "application/json", **sign(SECRET, body.encode())}
    challenge = await env.app.client.post("/webhooks/slack/events", content=body, headers=headers)
    assert challenge.status_code == 200 and "3eZbrw1aBm2r" in challenge.text


async def test_two_claims_at_once_have_one_winner(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, _ = await hand_off(env, fake_telegram)
    answers = await asyncio.gather(
        env.click(cards.CLAIM, conversation_id, "U0MAI0001"),
        env.click(cards.CLAIM, conversation_id, "U0HUNG001"),
    )
    assert [a.status_code for a in answers] == [200, 200]
    [update] = await env.slack.wait_for("chat.update", 1)
    [lost] = await env.slack.wait_for("chat.postEphemeral", 1)
    assert "already claimed" in lost["text"]
    winner = "Mai" if lost["user"] == "U0HUNG001" else "Hung"
    assert f"claimed by {winner}" in json.dumps(update["blocks"])
    assert await status_of(env, conversation_id) == "agent"
    assert await env.app.count(TimelineEvent, kind="claimed") == 1


async def test_the_resolve_button_resolves_and_surveys_the_customer(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, _ = await hand_off(env, fake_telegram)
    assert (await env.click(cards.CLAIM, conversation_id, "U0GUEST01")).status_code == 200
    await env.slack.wait_for("chat.update", 1)
    assert (await env.click(cards.RESOLVE, conversation_id, "U0MAI0001")).status_code == 200
    [_, resolved] = await env.slack.wait_for("chat.update", 2)
    assert "resolved by Mai" in json.dumps(resolved["blocks"])
    assert not [b for b in resolved["blocks"] if b["type"] == "actions"]
    sent = await fake_telegram.wait_for_sent(2)
    assert "1" in sent[-1]["text"] and "5" in sent[-1]["text"]  # the 1-5 CSAT question
    assert await status_of(env, conversation_id) == "resolved"
    claimed = await env.app.count(TimelineEvent, kind="claimed", actor_type="slack")
    assert claimed == 1  # a Slack user with no console account acts as themselves


@pytest.mark.parametrize(
    ("slack_text", "plain"),
    [
        ("a &amp; b &lt;3 &gt; 2", "a & b <3 > 2"),
        ("xem <https://spa.vn|đây>", "xem đây (https://spa.vn)"),
        ("<https://spa.vn>", "https://spa.vn"),
        ("<@U0MAI0001> sẽ gọi chị", "Mai sẽ gọi chị"),
        ("<@U0NOBODY1> hi", "hi"),
        ("<!here> kênh <#C0INBOX|inbox>", "kênh #inbox"),
    ],
)
def test_agent_mrkdwn_becomes_plain_text(slack_text: str, plain: str) -> None:
    assert fmt.unescape(slack_text, {"U0MAI0001": "Mai"}) == plain


def test_customer_text_cannot_ping_or_link() -> None:
    assert fmt.escape("<!channel> <@U1> a&b") == "&lt;!channel&gt; &lt;@U1&gt; a&amp;b"


def test_the_message_filter_without_event_id_falls_back_to_ts() -> None:
    body = {"event": reply_event("1.1", "x", ts="2.2")}
    found = agent_message(body, channels={INBOX}, bot_user_id=BOT_USER_ID)
    assert found is not None and found.event_id == "ts:2.2"
    elsewhere = {"event": {**reply_event("1.1", "x"), "channel": "C0OTHER"}}
    assert agent_message(elsewhere, channels={INBOX}, bot_user_id=BOT_USER_ID) is None


async def test_a_restart_posts_nothing_twice(
    database_url: str, fake_telegram: FakeTelegram, fake_slack: FakeSlack
) -> None:
    async with slack_app(database_url, fake_telegram, fake_slack) as first:
        _, thread_ts = await hand_off(first, fake_telegram)
        await first.app.telegram(updates.text_update(710009, "còn đó không?"))
        await first.app.settle()
        await fake_slack.wait_for("chat.postMessage", 3)
    async with slack_app(database_url, fake_telegram, fake_slack) as second:
        await asyncio.sleep(0.5)  # several sync passes of the new process
        assert len(fake_slack.of("chat.postMessage")) == 3
        reply = reply_event(thread_ts, "Em đây ạ")
        assert (await second.event(reply, event_id="Ev0AFTER01")).status_code == 200
        sent = await fake_telegram.wait_for_sent(2)
        assert sent[-1]["text"] == "Em đây ạ"
