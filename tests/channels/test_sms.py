"""SMS adapter tables: signatures, segments, keywords, form parsing, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest

from channels.base import DeliveryError, OutboundMessage, ParsedWebhook, WebhookRejected
from channels.sms import SmsAdapter, parse_form, sms_keyword
from channels.sms_segments import count_segments, split_body, utf16_units
from channels.twilio_http import delivery_error, parse_retry_after
from tests.fakes.twilio import (
    AUTH_TOKEN,
    SMS_URL,
    inbound_form,
    signed,
    status_form,
    twilio_signature,
)

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)

# Twilio's documented example (research §3.2).
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def adapter(token: str = AUTH_TOKEN) -> SmsAdapter:
    return SmsAdapter(
        account_sid="AC" + "0" * 32,
        auth_token=token,
        from_number="+15005550006",
        api_base="http://127.0.0.1:9",  # nothing listens: these tests must never send
        status_callback_url="https://crm.example.com/webhooks/twilio/status",
        region="VN",
    )


def parse(form: list[tuple[str, str]]) -> ParsedWebhook:
    return parse_form(urlencode(form).encode(), region="VN", received_at=NOW)


# --- signatures -------------------------------------------------------------------------


def test_twilio_documented_vector_passes_verify() -> None:
    body = urlencode(VECTOR_PARAMS).encode()
    headers = {"x-twilio-signature": VECTOR_SIGNATURE}
    adapter(VECTOR_TOKEN).verify(headers=headers, body=body, url=VECTOR_URL)
    # and our test signer (written from the docs) agrees with the vector
    assert twilio_signature(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE


def test_vector_with_one_changed_param_is_refused() -> None:
    params = [(k, "4321" if k == "Digits" else v) for k, v in VECTOR_PARAMS]
    headers = {"x-twilio-signature": VECTOR_SIGNATURE}
    with pytest.raises(WebhookRejected) as caught:
        adapter(VECTOR_TOKEN).verify(
            headers=headers, body=urlencode(params).encode(), url=VECTOR_URL
        )
    assert caught.value.status_code == 403


def test_missing_signature_is_401_and_wrong_one_403() -> None:
    body, _ = signed(inbound_form("SM1", "+84912345678", "hi"))
    with pytest.raises(WebhookRejected) as missing:
        adapter().verify(headers={}, body=body, url=SMS_URL)
    assert (missing.value.status_code, missing.value.code) == (401, "missing_signature")
    with pytest.raises(WebhookRejected) as wrong:
        adapter().verify(headers={"x-twilio-signature": "AAAA"}, body=body, url=SMS_URL)
    assert (wrong.value.status_code, wrong.value.code) == (403, "bad_signature")


def test_signature_made_with_another_token_is_refused() -> None:
    body, headers = signed(inbound_form("SM1", "+84912345678", "hi"), token="not-our-token")
    with pytest.raises(WebhookRejected) as caught:
        adapter().verify(headers=_lower(headers), body=body, url=SMS_URL)
    assert caught.value.status_code == 403


def test_signature_over_the_internal_url_is_refused() -> None:
    """What a proxy hides: Twilio signed the public URL, a signature over ours must not pass."""
    internal = "http://127.0.0.1:8000/webhooks/twilio/sms"
    body, headers = signed(inbound_form("SM1", "+84912345678", "hi"), url=internal)
    with pytest.raises(WebhookRejected) as caught:
        adapter().verify(headers=_lower(headers), body=body, url=SMS_URL)
    assert caught.value.status_code == 403
    adapter().verify(headers=_lower(headers), body=body, url=internal)  # sanity: it is valid


def test_explicit_default_port_is_accepted_either_way() -> None:
    """Twilio signs with or without :443 inconsistently; the validator tries both (§3.2)."""
    body, headers = signed(
        inbound_form("SM1", "+84912345678", "hi"),
        url="https://crm.example.com:443/webhooks/twilio/sms",
    )
    adapter().verify(headers=_lower(headers), body=body, url=SMS_URL)


def test_vietnamese_body_and_repeated_keys_are_signed_over_decoded_values() -> None:
    form = [*inbound_form("SM1", "+84912345678", "Cảm ơn, đặt lịch 9h + 10h & xong"), ("X", "b")]
    form.append(("X", "a"))
    body, headers = signed(form)
    adapter().verify(headers=_lower(headers), body=body, url=SMS_URL)


@pytest.mark.parametrize(
    "body", [b"\xff\xfe\x00garbage", b'{"MessageSid": "SM1"}', b"", b"a=%ZZ&&&=="]
)
def test_garbage_never_crashes_verify(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        adapter().verify(headers={"x-twilio-signature": "x" * 28}, body=body, url=SMS_URL)
    assert caught.value.status_code == 403


@pytest.mark.parametrize(
    "body", [b"\xff\xfe\x00garbage", b'{"MessageSid": "SM1", "Body": "hi"}', b"", b"a=1&&b=2"]
)
def test_non_form_with_a_valid_signature_is_400_from_parse(body: bytes) -> None:
    lenient = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    headers = {"x-twilio-signature": twilio_signature(AUTH_TOKEN, SMS_URL, lenient)}
    sms = adapter()
    sms.verify(headers=headers, body=body, url=SMS_URL)
    with pytest.raises(WebhookRejected) as caught:
        sms.parse(body)
    assert (caught.value.status_code, caught.value.code) == (400, "malformed_form")


def test_invalid_field_value_is_400() -> None:
    form = [
        (k, "lots" if k == "NumMedia" else v) for k, v in inbound_form("SM1", "+84912345678", "hi")
    ]
    with pytest.raises(WebhookRejected) as caught:
        parse(form)
    assert caught.value.status_code == 400
    assert "NumMedia" in caught.value.message


# --- segments ---------------------------------------------------------------------------

SEGMENTS = [
    ("hello", "GSM-7", 5, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€", "GSM-7", 2, 1),  # extension table: ESC + code
    ("[", "GSM-7", 2, 1),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair never straddles parts
    ("Xin chào", "GSM-7", 8, 1),  # à is in the GSM-7 alphabet; ả, ơ, ư, đ are not
    ("Xin chào, cảm ơn", "UCS-2", 16, 1),
    ("ư" * 70, "UCS-2", 70, 1),
    ("ư" * 71, "UCS-2", 71, 2),
    ("ư" * 134, "UCS-2", 134, 2),
    ("ư" * 135, "UCS-2", 135, 3),
    ("hello 😀", "UCS-2", 8, 1),  # an emoji is a surrogate pair: two units
    ("😀" * 35, "UCS-2", 70, 1),
    ("😀" * 36, "UCS-2", 72, 2),
    ("", "GSM-7", 0, 0),
]


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), SEGMENTS)
def test_segment_maths(text: str, encoding: str, units: int, segments: int) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)


def test_a_200_character_vietnamese_reply_costs_three_segments() -> None:
    reply = ("Dạ, bên em đã ghi nhận lịch hẹn của anh chị. " * 5)[:200]
    assert count_segments(reply).segments == 3  # not 2, as 160/153 arithmetic would say


def test_split_body_keeps_every_part_within_twilios_1600_limit() -> None:
    text = ("Một câu tiếng Việt khá dài để thử chia tin nhắn. " * 80).strip()
    parts = split_body(text)
    assert len(parts) == 3
    assert all(0 < utf16_units(part) <= 1600 for part in parts)
    assert " ".join(parts).split() == text.split()  # nothing lost, words kept whole
    assert split_body("ngắn") == ["ngắn"]
    assert [utf16_units(p) for p in split_body("😀" * 900)] == [1600, 200]


# --- keywords ---------------------------------------------------------------------------

KEYWORD_TABLE = [
    ("STOP", "stop"),
    (" stop ", "stop"),
    ("Stop.", "stop"),
    ("Unsubscribe", "stop"),
    ("REVOKE", "stop"),
    ("STOPALL", "stop"),
    ("cancel", "stop"),
    ("End", "stop"),
    ("quit", "stop"),
    ("OPTOUT", "stop"),
    ("opt out", "stop"),
    ("START", "start"),
    ("yes", "start"),
    ("UNSTOP", "start"),
    ("HELP", "help"),
    ("info", "help"),
    ("please stop texting me", None),
    ("stop it", None),
    ("stopping by tomorrow", None),
    ("hủy", None),  # localised keywords come through Advanced Opt-Out's OptOutType instead
    ("", None),
]


@pytest.mark.parametrize(("text", "keyword"), KEYWORD_TABLE)
def test_keyword_detection(text: str, keyword: str | None) -> None:
    assert sms_keyword(text) == keyword


@pytest.mark.parametrize(
    ("text", "kind", "keyword"),
    [
        ("STOP", "opt_out", "stop"),
        (" stop ", "opt_out", "stop"),
        ("START", "opt_in", "start"),
        ("HELP", "message", "help"),
        ("please stop texting me", "message", None),
    ],
)
def test_keywords_become_event_kinds(text: str, kind: str, keyword: str | None) -> None:
    [event] = parse(inbound_form("SM10", "+84912345678", text)).events
    assert event.kind == kind
    assert event.meta.get("twilio_keyword") == keyword
    assert event.text == text  # the customer's words are still kept


def test_advanced_opt_out_type_wins_over_the_text() -> None:
    [event] = parse(inbound_form("SM11", "+84912345678", "dừng", opt_out_type="STOP")).events
    assert (event.kind, event.meta["twilio_keyword"]) == ("opt_out", "stop")


def test_free_text_revocation_is_flagged_for_review_not_opted_out() -> None:
    [event] = parse(inbound_form("SM12", "+84912345678", "please stop texting me")).events
    assert event.kind == "message"
    assert event.meta["possible_opt_out"] is True


# --- inbound and status parsing ---------------------------------------------------------


def test_inbound_sms_is_normalised() -> None:
    parsed = parse(inbound_form("SM" + "a" * 32, "+84912345678", "Xin chào, cảm ơn"))
    [event] = parsed.events
    assert event.channel == "sms" and event.kind == "message"
    assert event.external_user_id == "+84912345678"
    assert event.external_event_id == event.external_message_id == "SM" + "a" * 32
    assert event.text == "Xin chào, cảm ơn"
    assert event.contact is not None
    assert (event.contact.phone, event.contact.verified) == ("+84912345678", True)
    assert event.meta["to"] == "+15005550006" and event.meta["num_segments"] == 1
    assert event.occurred_at == NOW and event.attachments == []
    assert parsed.statuses == ()


def test_blank_counters_read_as_unset() -> None:
    form = [
        (k, "" if k in ("NumMedia", "NumSegments") else v)
        for k, v in inbound_form("SM14", "+84912345678", "hi")
    ]
    [event] = parse(form).events
    assert event.attachments == [] and event.meta["num_segments"] is None


def test_short_code_sender_is_kept_raw_without_a_verified_contact() -> None:
    [event] = parse(inbound_form("SM13", "12345", "hello")).events
    assert event.external_user_id == "12345"
    assert event.contact is None


def test_mms_media_become_attachments_without_being_fetched() -> None:
    media = [
        ("https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1", "image/jpeg"),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME2",
            "application/pdf",
        ),
    ]
    [event] = parse(inbound_form("MM1", "+84912345678", "", media=media)).events
    assert [(a.kind, a.ref, a.mime_type) for a in event.attachments] == [
        ("image", media[0][0], "image/jpeg"),
        ("document", media[1][0], "application/pdf"),
    ]
    assert event.text == ""


STATUS_TABLE = [
    ("sent", None, "sent", None),
    ("delivered", None, "delivered", None),
    ("read", None, "read", None),
    ("undelivered", "30003", "failed", "30003"),
    ("failed", "30008", "failed", "30008"),
]


@pytest.mark.parametrize(("twilio", "code", "ours", "our_code"), STATUS_TABLE)
def test_status_callbacks_map_to_our_statuses(
    twilio: str, code: str | None, ours: str, our_code: str | None
) -> None:
    parsed = parse(status_form("SM20", twilio, to="+84912345678", error_code=code))
    assert parsed.events == ()
    [update] = parsed.statuses
    assert (update.channel, update.external_message_id) == ("sms", "SM20")
    assert (update.status, update.error_code) == (ours, our_code)
    if ours == "failed":
        assert update.error is not None and (code or "") in update.error


@pytest.mark.parametrize("twilio", ["queued", "accepted", "scheduled", "sending", "bogus"])
def test_statuses_that_add_nothing_are_ignored(twilio: str) -> None:
    parsed = parse(status_form("SM21", twilio, to="+84912345678"))
    assert parsed.statuses == () and parsed.events == ()
    assert parsed.ignored is not None


def test_unrelated_form_is_ignored() -> None:
    parsed = parse([("AccountSid", "AC0"), ("Foo", "bar")])
    assert parsed.events == () and parsed.statuses == () and parsed.ignored


# --- sending guards and error mapping ---------------------------------------------------


@pytest.mark.parametrize("address", ["0912345678", "12345", "not-a-phone", "+0123"])
async def test_send_refuses_a_non_e164_recipient_before_any_call(address: str) -> None:
    sms = adapter()
    try:
        with pytest.raises(DeliveryError) as caught:
            await sms.send(OutboundMessage("m1", "sms", address, "hello"))
        assert caught.value.retryable is False
        assert caught.value.code == "invalid_recipient"
    finally:
        await sms.close()


async def test_unreachable_api_is_retryable() -> None:
    sms = adapter()  # port 9: connection refused
    try:
        with pytest.raises(DeliveryError) as caught:
            await sms.send(OutboundMessage("m1", "sms", "+84912345678", "hello"))
        assert caught.value.retryable is True
    finally:
        await sms.close()


ERROR_TABLE = [
    (429, 20429, True, False),
    (500, None, True, False),
    (503, 503, True, False),
    (400, 21610, False, True),
    (400, 21211, False, False),
    (400, 21614, False, False),
    (400, 21602, False, False),
    (401, 20003, False, False),
]


@pytest.mark.parametrize(("status", "code", "retryable", "opted_out"), ERROR_TABLE)
def test_api_errors_map_to_delivery_errors(
    status: int, code: int | None, retryable: bool, opted_out: bool
) -> None:
    error = delivery_error(status=status, code=code)
    assert (error.retryable, error.opted_out) == (retryable, opted_out)
    assert error.code == (str(code) if code is not None else None)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 20 Nov 2026 03:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Fri, 20 Nov 2026 02:59:00 GMT", now=now) == 0.0


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}
