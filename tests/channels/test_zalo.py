"""Zalo adapter without the app: signature and parse tables, then send against the fake API."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.base import (
    DeliveryError,
    InboundEvent,
    OutboundMessage,
    ReplyContext,
    WebhookRejected,
)
from channels.zalo import MAX_TEXT, ZaloAdapter, parse_event, split_text, verify_signature
from channels.zalo_api import STATE_KEY, retry_after
from tests.fakes import zalo as fz
from tests.fakes.zalo import FakeZalo

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _verify(body: bytes, signature: str | None, *, app_id: str = fz.APP_ID) -> None:
    headers = {"x-zevent-signature": signature} if signature is not None else {}
    verify_signature(headers=headers, body=body, app_id=app_id, oa_secret_key=fz.OA_SECRET_KEY)


def _rejected(body: bytes, signature: str | None) -> tuple[int, str]:
    with pytest.raises(WebhookRejected) as caught:
        _verify(body, signature)
    return caught.value.status_code, caught.value.code


# --- signature ------------------------------------------------------------------------------

BODY = fz.encode(fz.text_event("cb31dff1c39642cc1b83", "Xin chào shop", timestamp="1699003881354"))


def test_signature_is_sha256_of_app_id_raw_body_timestamp_and_oa_secret() -> None:
    expected = hashlib.sha256(
        fz.APP_ID.encode() + BODY + b"1699003881354" + fz.OA_SECRET_KEY.encode()
    ).hexdigest()
    assert fz.sign(BODY) == f"mac={expected}"
    _verify(BODY, f"mac={expected}")
    _verify(BODY, expected)  # some senders omit the prefix (research §4.3)
    _verify(BODY, f"MAC={expected.upper()}")


@pytest.mark.parametrize(
    ("signature", "outcome"),
    [
        (None, (401, "missing_signature")),
        ("", (401, "missing_signature")),
        ("mac=", (403, "bad_signature")),
        ("mac=" + "0" * 64, (403, "bad_signature")),
        ("not even hex ☃", (403, "bad_signature")),
    ],
)
def test_missing_or_wrong_signature_is_refused(
    signature: str | None, outcome: tuple[int, str]
) -> None:
    assert _rejected(BODY, signature) == outcome


def test_signature_with_another_key_or_app_is_refused() -> None:
    assert _rejected(BODY, fz.sign(BODY, secret="the-app-secret-not-the-oa-key")) == (
        403,
        "bad_signature",
    )
    with pytest.raises(WebhookRejected):
        _verify(BODY, fz.sign(BODY), app_id="another-app")


def test_signature_covers_the_raw_bytes_not_reserialised_json() -> None:
    escaped = json.dumps(json.loads(BODY)).encode()  # same JSON, "\\u00e0" escapes
    assert escaped != BODY
    assert _rejected(escaped, fz.sign(BODY)) == (403, "bad_signature")
    _verify(escaped, fz.sign(escaped))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"event_name": "user_send_text", ', "malformed_json"),
        (b"\xff\xfe garbage", "malformed_json"),
        (b"[1, 2]", "invalid_payload"),
        (b'{"event_name": "user_send_text"}', "invalid_payload"),
        (b'{"timestamp": null}', "invalid_payload"),
        (b'{"timestamp": "soon"}', "invalid_payload"),
    ],
)
def test_garbage_with_a_signature_header_is_a_400(body: bytes, code: str) -> None:
    assert _rejected(body, "mac=" + "0" * 64) == (400, code)


def test_numeric_timestamp_is_signed_as_written() -> None:
    body = b'{"event_name":"follow","timestamp":1699003881354}'
    _verify(body, fz.sign(body))


# --- parse ----------------------------------------------------------------------------------


def _one(payload: dict[str, Any]) -> InboundEvent:
    parsed = parse_event(fz.encode(payload))
    assert parsed.ignored is None and not parsed.statuses
    [event] = parsed.events
    return event


def test_text_message_keeps_ids_as_strings_and_msg_id_as_dedupe_key() -> None:
    event = _one(fz.text_event("cb31dff1c39642cc1b83", "Xin chào shop", timestamp="1699003881354"))
    assert event.kind == "message" and event.channel == "zalo"
    assert event.external_user_id == fz.USER_ID
    assert event.external_event_id == event.external_message_id == "cb31dff1c39642cc1b83"
    assert event.text == "Xin chào shop"
    assert event.occurred_at == datetime(2023, 11, 3, 9, 31, 21, 354000, tzinfo=UTC)
    assert event.raw["sender"]["id"] == fz.USER_ID


def test_numeric_ids_beyond_javascript_safe_integers_stay_exact() -> None:
    body = (
        b'{"event_name":"user_send_text","sender":{"id":6142494823123456789},'
        b'"message":{"msg_id":98765432109876543210,"text":"hi"},"timestamp":"1699003881354"}'
    )
    [event] = parse_event(body).events
    assert event.external_user_id == "6142494823123456789"
    assert event.external_message_id == "98765432109876543210"


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "image",
            {"url": "https://photo.zalo.me/a.jpg", "thumbnail": "https://photo.zalo.me/t.jpg"},
            ("image", "https://photo.zalo.me/a.jpg", None, None, None),
        ),
        (
            "file",
            {"url": "https://f.zalo.me/b.pdf", "name": "bảng giá.pdf", "size": "20480"},
            ("document", "https://f.zalo.me/b.pdf", "bảng giá.pdf", 20480, None),
        ),
        (
            "sticker",
            {"id": "sticker-42", "url": "https://zalo.me/s/42.png"},
            ("sticker", "https://zalo.me/s/42.png", None, None, None),
        ),
        (
            "gif",
            {"url": "https://zalo.me/g.gif"},
            ("image", "https://zalo.me/g.gif", None, None, "image/gif"),
        ),
        (
            "audio",
            {"url": "https://zalo.me/v.aac"},
            ("audio", "https://zalo.me/v.aac", *[None] * 3),
        ),
        (
            "video",
            {"url": "https://zalo.me/v.mp4"},
            ("video", "https://zalo.me/v.mp4", *[None] * 3),
        ),
        ("link", {"url": "https://shop.vn/sp/1"}, ("link", "https://shop.vn/sp/1", *[None] * 3)),
        (
            "location",
            {"coordinates": {"latitude": "10.7769", "longitude": 106.7009}},
            ("location", "10.7769,106.7009", None, None, None),
        ),
    ],
)
def test_media_events_become_attachments(
    kind: str, payload: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    event = _one(fz.media_event(kind, f"msg-{kind}", payload))
    [attachment] = event.attachments
    found = (
        attachment.kind,
        attachment.ref,
        attachment.name,
        attachment.size,
        attachment.mime_type,
    )
    assert found == expected
    assert event.external_message_id == f"msg-{kind}"
    assert event.text == ""
    assert event.meta["zalo_event"] == f"user_send_{kind}"


def test_image_caption_is_the_text() -> None:
    event = _one(fz.media_event("image", "m1", {"url": "https://a/b.jpg"}, text="Ảnh sản phẩm"))
    assert event.text == "Ảnh sản phẩm" and len(event.attachments) == 1


@pytest.mark.parametrize("name", ["follow", "unfollow"])
def test_follow_and_unfollow(name: str) -> None:
    payload = fz.follow_event(name)
    event = _one(payload)
    assert event.kind == name
    assert event.external_user_id == fz.USER_ID
    assert event.external_event_id == f"{name}:{fz.USER_ID}:{payload['timestamp']}"
    assert event.external_message_id is None and event.text == ""


@pytest.mark.parametrize("phone", ["84912345678", 84912345678])
def test_submitted_info_is_a_verified_contact(phone: str | int) -> None:
    payload = fz.submit_info_event(phone=phone, name="Nguyễn Văn An")
    event = _one(payload)
    assert event.contact is not None
    assert event.contact.model_dump() == {
        "phone": "84912345678",
        "email": None,
        "name": "Nguyễn Văn An",
        "verified": True,
    }
    assert event.external_event_id == f"user_submit_info:{fz.USER_ID}:{payload['timestamp']}"
    assert event.text == ""


@pytest.mark.parametrize(
    ("event_name", "ids", "status"),
    [
        ("user_seen_message", ["a1", "b2"], "read"),
        ("user_seen_message", "a1", "read"),
        ("user_received_message", "a1", "delivered"),
        ("user_received_message", ["a1"], "delivered"),
    ],
)
def test_receipts_become_status_updates(
    event_name: str, ids: list[str] | str, status: str
) -> None:
    parsed = parse_event(fz.encode(fz.receipt_event(event_name, ids)))
    assert not parsed.events
    expected = [ids] if isinstance(ids, str) else ids
    assert [(s.channel, s.external_message_id, s.status) for s in parsed.statuses] == [
        ("zalo", msg_id, status) for msg_id in expected
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (fz.echo_event("m9", "Cảm ơn bạn"), "echo"),
        ({**fz.echo_event("m9", "x"), "event_name": "oa_send_image"}, "echo"),
        ({**fz.text_event("m1", "hi"), "event_name": "anonymous_send_text"}, "anonymous"),
        ({"event_name": "user_click_button", "timestamp": "1"}, "not handled"),
        ({**fz.text_event("m1", ""), "event_name": "user_send_text"}, "without text"),
        (fz.receipt_event("user_seen_message", []), "without message ids"),
    ],
)
def test_echoes_and_other_events_are_ignored_with_a_reason(
    payload: dict[str, Any], reason: str
) -> None:
    parsed = parse_event(fz.encode(payload))
    assert not parsed.events and not parsed.statuses
    assert parsed.ignored is not None and reason in parsed.ignored


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (b"{not json", "malformed_json", ""),
        (b'"just a string"', "invalid_payload", ""),
        (b'{"timestamp": "1"}', "invalid_payload", "event_name"),
        (b'{"event_name": "user_send_text", "timestamp": "1"}', "invalid_payload", "sender"),
        (
            b'{"event_name":"user_send_text","sender":{"id":"1"},"message":{"text":"x"},'
            b'"timestamp":"1"}',
            "invalid_payload",
            "message.msg_id",
        ),
        (
            b'{"event_name":"user_send_text","sender":{"id":"1"},'
            b'"message":{"text":"x","msg_id":"m"},"timestamp":"yesterday"}',
            "invalid_payload",
            "timestamp",
        ),
        (b'{"event_name": "follow", "timestamp": "1"}', "invalid_payload", "follower"),
        (
            b'{"event_name":"follow","follower":{"id":"1"},"timestamp":"99999999999999999999"}',
            "invalid_payload",
            "timestamp",
        ),
        (
            '{"event_name":"follow","follower":{"id":"1"},"timestamp":"١٢٣"}'.encode(),
            "invalid_payload",
            "timestamp",
        ),
        (b'{"event_name":"user_seen_message","timestamp":"1"}', "invalid_payload", "message"),
    ],
)
def test_malformed_events_are_a_400_naming_the_field(body: bytes, code: str, where: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_event(body)
    assert (caught.value.status_code, caught.value.code) == (400, code)
    assert where in caught.value.message


def test_split_text_respects_the_limit_and_keeps_everything() -> None:
    text = ("Dòng " + "chữ " * 30 + "\n") * 100
    parts = split_text(text.strip(), MAX_TEXT)
    assert len(parts) > 1 and all(0 < len(part) <= MAX_TEXT for part in parts)
    assert " ".join(parts).split() == text.split()
    assert split_text("x" * 4500, MAX_TEXT) == ["x" * 2000, "x" * 2000, "x" * 500]


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


# --- send -----------------------------------------------------------------------------------


class InMemoryState:
    """ChannelStateStore's contract in memory; records every write."""

    def __init__(self, value: dict[str, Any] | None = None) -> None:
        self.value = value
        self.writes: list[dict[str, Any]] = []

    async def get(self, key: str) -> dict[str, Any] | None:
        assert key == STATE_KEY
        return dict(self.value) if self.value is not None else None

    async def set(self, key: str, value: dict[str, Any]) -> None:
        assert key == STATE_KEY
        self.value = dict(value)
        self.writes.append(dict(value))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo().start()
    yield server
    await server.stop()


def _adapter(
    fake: FakeZalo,
    state: InMemoryState,
    clock: Clock,
    *,
    access_token: str | None = "at-initial",
    refresh_token: str | None = "rt-initial",
    api_base: str | None = None,
) -> ZaloAdapter:
    return ZaloAdapter(
        app_id=fz.APP_ID,
        app_secret=fz.APP_SECRET,
        oa_secret_key=fz.OA_SECRET_KEY,
        access_token=access_token,
        refresh_token=refresh_token,
        api_base=api_base or fake.url,
        oauth_base=fake.url,
        state=state,
        max_sends_per_second=5,
        clock=clock,
    )


@pytest.fixture
async def setup(fake: FakeZalo) -> AsyncIterator[tuple[ZaloAdapter, InMemoryState, Clock]]:
    state, clock = InMemoryState(), Clock()
    adapter = _adapter(fake, state, clock)
    yield adapter, state, clock
    await adapter.close()


def _reply(
    text: str = "Chào bạn, shop mở cửa 8h–21h.",
    *,
    ago: timedelta | None = timedelta(minutes=5),
    sent: int = 0,
    user_id: str = fz.USER_ID,
) -> OutboundMessage:
    context = ReplyContext(
        last_inbound_external_id="cb31dff1c39642cc1b83",
        last_inbound_at=NOW - ago if ago is not None else None,
        sent_since_last_inbound=sent,
    )
    return OutboundMessage(
        message_id="m-out-1", channel="zalo", external_user_id=user_id, text=text, context=context
    )


async def test_send_posts_a_cs_text_message_with_the_access_token_header(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, state, _ = setup
    receipt = await adapter.send(_reply())
    [call] = fake.sent_calls()
    assert call.headers["access_token"] == "at-initial"
    assert call.body == {
        "recipient": {"user_id": fz.USER_ID},
        "message": {"text": "Chào bạn, shop mở cửa 8h–21h."},
    }
    assert receipt.external_id and receipt.status == "sent"
    assert adapter.name == "zalo" and adapter.max_sends_per_second == 5
    assert state.value is not None and state.value["refresh_token"] == "rt-initial"


@pytest.mark.parametrize(
    ("ago", "sent", "why"),
    [
        (None, 0, "48 h"),
        (timedelta(hours=48, seconds=1), 0, "48 h"),
        (timedelta(days=30), 0, "48 h"),
        (timedelta(hours=1), 8, "8 replies"),
        (timedelta(hours=1), 12, "8 replies"),
    ],
)
async def test_outside_the_reply_window_nothing_is_sent(
    setup: tuple[ZaloAdapter, InMemoryState, Clock],
    fake: FakeZalo,
    ago: timedelta | None,
    sent: int,
    why: str,
) -> None:
    adapter, _, _ = setup
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply(ago=ago, sent=sent))
    error = caught.value
    assert (error.retryable, error.code) == (False, "zalo_reply_window")
    assert why in error.reason and "proactive" in error.reason
    assert fake.calls == []


async def test_inside_the_window_edges_are_sent(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    await adapter.send(_reply(ago=timedelta(hours=47, minutes=59), sent=7))
    assert len(fake.sent()) == 1


async def test_long_text_is_split_and_counted_against_the_window(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    text = "Bảng giá chi tiết: " + "dịch vụ tốt " * 300  # ~3600 characters
    receipt = await adapter.send(_reply(text))
    sent = [body["message"]["text"] for body in fake.sent()]
    assert len(sent) == 2 and all(len(part) <= 2000 for part in sent)
    assert " ".join(sent).split() == text.split()
    assert receipt.meta["zalo_message_ids"][-1] == receipt.external_id
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply(text, sent=7))  # 7 + 2 parts > 8
    assert caught.value.code == "zalo_reply_window"
    assert len(fake.sent()) == 2


async def test_a_retry_after_a_failed_part_does_not_resend_earlier_parts(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    text = "Bảng giá chi tiết: " + "dịch vụ tốt " * 300
    first_part_ok = {
        "error": 0,
        "message": "Success",
        "data": {"message_id": "p1", "user_id": "u"},
    }
    fake.script(200, first_part_ok)
    fake.script(502, "<html>Bad Gateway</html>")
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply(text))
    assert caught.value.retryable is True
    receipt = await adapter.send(_reply(text))  # the dispatcher's retry
    texts = [call.body["message"]["text"] for call in fake.send_attempts()]
    assert len(texts) == 3 and texts[1] == texts[2] != texts[0]  # part 1 once, part 2 twice
    assert receipt.meta["zalo_message_ids"][0] == "p1"
    assert receipt.external_id == receipt.meta["zalo_message_ids"][1] != "p1"


async def test_empty_text_is_refused_without_a_call(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply("  \n "))
    assert caught.value.retryable is False and fake.calls == []


@pytest.mark.parametrize("code", [-230, -213])
async def test_window_closed_by_zalo_is_permanent(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo, code: int
) -> None:
    adapter, _, _ = setup
    fake.script(200, {"error": code, "message": "User has not interacted with the OA"})
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert (caught.value.retryable, caught.value.code) == (False, "zalo_reply_window")
    assert str(code) in caught.value.reason and "window" in caught.value.reason


async def test_other_zalo_errors_are_permanent_with_code_and_message(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    fake.script(200, {"error": -201, "message": "Parameters are invalid"})
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert (caught.value.retryable, caught.value.code) == (False, "-201")
    assert "Parameters are invalid" in caught.value.reason


@pytest.mark.parametrize(
    ("status", "headers", "retry"),
    [
        (429, {"Retry_After": "7"}, 7.0),
        (429, {}, None),
        (500, {}, None),
        (502, {}, None),
        (503, {"Retry_After": "2"}, 2.0),
    ],
)
async def test_rate_limits_and_server_errors_are_retryable(
    setup: tuple[ZaloAdapter, InMemoryState, Clock],
    fake: FakeZalo,
    status: int,
    headers: dict[str, str],
    retry: float | None,
) -> None:
    adapter, _, _ = setup
    fake.script(status, {"error": -32, "message": "busy"}, **headers)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert (caught.value.retryable, caught.value.retry_after) == (True, retry)
    assert str(status) in caught.value.reason


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (404, "<html>Not Found</html>", False),
        (403, "<html>Forbidden</html>", False),
        (200, "<html>maintenance</html>", True),
        (200, {"error": 0, "message": "Success", "data": {}}, False),
    ],
)
async def test_answers_that_are_not_zalo_json(
    setup: tuple[ZaloAdapter, InMemoryState, Clock],
    fake: FakeZalo,
    status: int,
    body: dict[str, Any] | str,
    retryable: bool,
) -> None:
    adapter, _, _ = setup
    fake.script(status, body)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert caught.value.retryable is retryable


async def test_network_error_is_retryable(fake: FakeZalo) -> None:
    adapter = _adapter(fake, InMemoryState(), Clock(), api_base="http://127.0.0.1:9")
    try:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(_reply())
        assert caught.value.retryable is True and "unreachable" in caught.value.reason
    finally:
        await adapter.close()


# --- tokens ---------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_saved_first_then_retried_once(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, state, clock = setup
    fake.expire_access_token()
    receipt = await adapter.send(_reply())
    assert receipt.external_id
    assert [c.outcome for c in fake.calls] == ["refused", "refreshed", "sent"]
    assert fake.calls[1].body == {
        "refresh_token": "rt-initial",
        "app_id": fz.APP_ID,
        "grant_type": "refresh_token",
    }
    assert fake.calls[1].headers["secret_key"] == fz.APP_SECRET
    assert fake.sent_calls()[0].headers["access_token"] == fake.access_token
    stored = state.value
    assert stored is not None
    assert (stored["access_token"], stored["refresh_token"]) == (
        fake.access_token,
        fake.refresh_token,
    )
    assert datetime.fromisoformat(stored["expires_at"]) == clock.now + timedelta(seconds=90000)


async def test_token_is_refreshed_before_it_expires(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, state, clock = setup
    fake.expire_access_token()
    await adapter.send(_reply())
    assert len(fake.refreshes()) == 1
    clock.now += timedelta(hours=24, minutes=56)  # 25 h lifetime, 5 min margin: refresh now
    await adapter.send(_reply(ago=timedelta(hours=-24)))
    assert [c.outcome for c in fake.calls[-2:]] == ["refreshed", "sent"]
    assert state.value is not None and state.value["refresh_token"] == fake.refresh_token


async def test_concurrent_sends_refresh_once(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    fake.expire_access_token()
    await asyncio.gather(*(adapter.send(_reply()) for _ in range(5)))
    assert len(fake.refreshes()) == 1
    assert [c.outcome for c in fake.refreshes()] == ["refreshed"]
    assert len(fake.sent()) == 5


async def test_stored_tokens_win_over_the_configured_seed(fake: FakeZalo) -> None:
    state, clock = InMemoryState(), Clock()
    first = _adapter(fake, state, clock)
    fake.expire_access_token()
    await first.send(_reply())
    await first.close()
    # A restart with the same (now consumed) configured pair must use the stored new one.
    second = _adapter(fake, state, clock)
    try:
        await second.send(_reply())
    finally:
        await second.close()
    assert len(fake.refreshes()) == 1
    assert fake.sent_calls()[-1].headers["access_token"] == fake.access_token


async def test_a_newly_configured_pair_replaces_the_stored_one(fake: FakeZalo) -> None:
    state = InMemoryState(
        {"access_token": "at-old", "refresh_token": "rt-old", "expires_at": None, "seed": "x"}
    )
    adapter = _adapter(fake, state, Clock())
    try:
        await adapter.send(_reply())
    finally:
        await adapter.close()
    assert fake.sent_calls()[0].headers["access_token"] == "at-initial"
    assert state.value is not None and state.value["refresh_token"] == "rt-initial"


async def test_only_a_refresh_token_configured_refreshes_first(fake: FakeZalo) -> None:
    state = InMemoryState()
    adapter = _adapter(fake, state, Clock(), access_token=None)
    try:
        await adapter.send(_reply())
    finally:
        await adapter.close()
    assert [c.outcome for c in fake.calls] == ["refreshed", "sent"]


async def test_a_refused_refresh_is_retryable_and_explains(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, state, _ = setup
    fake.refresh_token = "rt-someone-else-used-ours"
    fake.expire_access_token()
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert caught.value.retryable is True
    assert "OMNICRM_ZALO_REFRESH_TOKEN" in caught.value.reason
    assert "rt-initial" not in caught.value.reason  # never a token in a reason or a log
    assert state.value is not None and state.value["refresh_token"] == "rt-initial"
    assert fake.sent() == []


async def test_a_token_refused_again_after_refresh_is_permanent(
    setup: tuple[ZaloAdapter, InMemoryState, Clock], fake: FakeZalo
) -> None:
    adapter, _, _ = setup
    fake.expire_access_token()
    fake.script(200, {"error": -216, "message": "Access token is invalid"})
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_reply())
    assert (caught.value.retryable, caught.value.code) == (False, "-216")
    assert len(fake.refreshes()) == 1


class FlakyState(InMemoryState):
    """Refuses chosen writes, as a database that is briefly down would."""

    def __init__(self, *, fail_write: int) -> None:
        super().__init__()
        self.fail_write: int | None = fail_write  # index of the write that fails, once

    async def set(self, key: str, value: dict[str, Any]) -> None:
        if len(self.writes) == self.fail_write:
            self.fail_write = None
            raise OSError("database is down")
        await super().set(key, value)


async def test_new_tokens_are_not_used_before_they_are_stored(fake: FakeZalo) -> None:
    state = FlakyState(fail_write=1)  # write 0 seeds the configured pair, 1 the refresh result
    adapter = _adapter(fake, state, Clock())
    try:
        fake.expire_access_token()
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(_reply())
        assert caught.value.retryable is True and "save" in caught.value.reason
        assert fake.sent() == []  # the new access token was not used
        assert state.value is not None and state.value["refresh_token"] == "rt-initial"

        await adapter.send(_reply())  # the database is back: store first, then send
    finally:
        await adapter.close()
    assert state.value["refresh_token"] == fake.refresh_token
    assert len(fake.refreshes()) == 1 and len(fake.sent()) == 1
    assert fake.sent_calls()[0].headers["access_token"] == fake.access_token


@pytest.mark.parametrize(
    "payload",
    [
        {"event_name": "user_send_text", "sender": "6142", "message": {}, "timestamp": "1"},
        {"event_name": "user_send_image", "sender": {"id": "1"}, "message": [], "timestamp": "1"},
        {
            "event_name": "user_send_file",
            "sender": {"id": "1"},
            "message": {"msg_id": "m", "attachments": "x"},
            "timestamp": "1",
        },
        {"event_name": "user_submit_info", "sender": {"id": "1"}, "info": None, "timestamp": "1"},
        {"event_name": "user_seen_message", "message": {"msg_ids": [{}]}, "timestamp": "1"},
        {"event_name": 42, "timestamp": "1"},
        {"event_name": "user_send_text", "sender": {"id": None}, "timestamp": "1"},
    ],
)
def test_odd_shapes_are_400s_never_crashes(payload: dict[str, Any]) -> None:
    body = fz.encode(payload)
    _verify(body, fz.sign(body))
    with pytest.raises(WebhookRejected) as caught:
        parse_event(body)
    assert caught.value.status_code == 400
