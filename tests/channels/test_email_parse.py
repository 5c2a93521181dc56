"""Pure parsing of realistic raw mails: decoding, body choice, stripping, threading, machines."""

from __future__ import annotations

import hashlib
import hmac
import socket
import unicodedata
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from channels.base import (
    DeliveryError,
    InboundEvent,
    OutboundMessage,
    ReplyContext,
    WebhookRejected,
)
from channels.email import EmailAdapter
from channels.email_compose import compose, references, reply_subject
from channels.email_html import html_to_text
from channels.email_parse import parse_email
from channels.email_quotes import strip_reply
from tests.fakes import mails

OWN = "support@omnispa.example"


def _event(raw: bytes) -> InboundEvent:
    parsed = parse_email(raw, own_address=OWN)
    assert parsed.ignored is None
    [event] = parsed.events
    return event


def _adapter(secret: str | None = "s3cret") -> EmailAdapter:
    return EmailAdapter(
        webhook_secret=secret,
        smtp_host="127.0.0.1",
        smtp_port=2525,
        smtp_username=None,
        smtp_password=None,
        smtp_starttls=False,
        email_from=f"Omni Spa & Clinic <{OWN}>",
    )


@pytest.mark.parametrize(
    ("raw", "subject", "sender", "name"),
    [
        (mails.vietnamese_qp, "Hỏi về đơn hàng #1025", mails.LAN, "Nguyễn Thị Lan"),
        (mails.html_only, "Gói trị liệu", mails.MINH, "Trần Văn Minh"),
        (mails.gmail_reply, "Re: Hỏi về đơn hàng #1025", mails.LAN, "Nguyễn Thị Lan"),
        (mails.with_attachment, "Báo giá", mails.LAN, "Nguyễn Thị Lan"),
        (mails.outlook_reply, "RE: Booking", mails.MINH, "Minh Tran"),
    ],
)
def test_headers_are_decoded(
    raw: Callable[[], bytes], subject: str, sender: str, name: str
) -> None:
    event = _event(raw())
    assert event.subject == subject
    assert event.external_user_id == sender  # plus-addressing kept, lower-cased
    assert event.display_name == name
    assert event.contact is not None
    assert (event.contact.email, event.contact.name, event.contact.verified) == (
        sender,
        name,
        True,
    )
    assert event.channel == "email" and event.occurred_at.tzinfo is not None


def test_quoted_printable_vietnamese_body() -> None:
    event = _event(mails.vietnamese_qp())
    assert event.text == mails.VIETNAMESE_QP_TEXT
    assert event.external_event_id == event.external_message_id == "CAF7u1Qp2vXk3r@mail.gmail.com"
    assert event.meta["html"] is False
    assert event.automated is None and event.thread_refs == []


def test_html_only_mail_becomes_readable_text() -> None:
    event = _event(mails.html_only())
    assert event.meta["html"] is True
    assert event.text.splitlines() == [
        "Xin chào,",
        "Tôi muốn hỏi về gói trị liệu trong chương trình ưu đãi (https://omnispa.example/uu-dai).",
        "Spa còn mở cửa tối Chủ nhật không?",
        "- Gói 1: chăm sóc da",
        "- Gói 2: massage",
        "Trân trọng,",
        "Minh",
    ]
    assert "alert" not in event.text and "color" not in event.text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a&nbsp;&amp;&nbsp;b</p><p>c</p>", "a & b\nc"),
        ("line<br>next<br/>last", "line\nnext\nlast"),
        ('<a href="https://x.example/p">https://x.example/p</a>', "https://x.example/p"),
        ('<a href="mailto:a@b.example">write us</a>', "write us"),
        ("<pre>a\n  b</pre>", "a\n  b"),
        ("<p>new</p><blockquote>old<br>older</blockquote>", "new\n> old\n> older"),
        ("<head><title>T</title></head><body>only</body>", "only"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_gmail_reply_loses_its_history_and_signature_but_keeps_the_original() -> None:
    event = _event(mails.gmail_reply())
    assert event.text == mails.GMAIL_REPLY_TEXT
    original = event.meta["original_text"]
    assert "đã viết:" in original and "wrote:" in original and "\n-- \n" in original
    assert "0903 123 456" in original and "0903 123 456" not in event.text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (mails.outlook_reply, "Thanks, Saturday at 3pm works for me.\n\nMinh"),
        (mails.outlook_original_message, "Please cancel my appointment."),
    ],
)
def test_outlook_history_is_stripped(raw: Callable[[], bytes], text: str) -> None:
    event = _event(raw())
    assert event.text == text
    assert event.meta["original_text"] != text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Yes please.\n\nOn Fri, Nov 20, 2026 at 9:14 AM Shop <s@x.example> wrote:\n> hi",
            "Yes please.",
        ),
        ("Vâng ạ\n\nVào 20 thg 11, 2026 lúc 09:14 Shop <s@x.example> đã viết:\n> chào", "Vâng ạ"),
        ("ok\nOn Fri, Nov 20, 2026 at 9:14 AM Shop <\ns@x.example> wrote:\n> hi", "ok"),
        ("I agree\n> quoted\nand more", "I agree\nand more"),
        ("Thanks\n--\nLan\n0903", "Thanks"),
        ("Thanks\n\nSent from my iPhone", "Thanks"),
        ("See below\n________________________________\nFrom: A\nSent: Monday\nTo: B", "See below"),
        (
            "From: the airport I can come by taxi.\nSee you",
            "From: the airport I can come by taxi.\nSee you",
        ),
        ("On Monday I can come.\nShe wrote: fine", "On Monday I can come.\nShe wrote: fine"),
        ("-- \nonly a signature", "-- \nonly a signature"),  # nothing left: keep it all
    ],
)
def test_strip_reply(text: str, expected: str) -> None:
    assert strip_reply(text) == expected


def test_attachments_are_metadata_with_rfc2231_names() -> None:
    event = _event(mails.with_attachment())
    message_id = "5F0D1A2B-AAAA-4BBB-8CCC-123456789ABC@gmail.com"
    assert [a.model_dump() for a in event.attachments] == [
        {
            "kind": "document",
            "ref": f"email:{message_id}:0",
            "name": "Báo giá tháng 11.pdf",
            "mime_type": "application/pdf",
            "size": 54,
        },
        {
            "kind": "image",
            "ref": f"email:{message_id}:1",
            "name": "da-mat.jpg",
            "mime_type": "image/jpeg",
            "size": 59,
        },
    ]
    assert event.text == "Gửi shop báo giá và ảnh da ạ."


def test_thread_refs_follow_references_then_in_reply_to() -> None:
    event = _event(
        mails.gmail_reply(
            in_reply_to="omnicrm-b@omnispa.example",
            references=("root@mail.gmail.com", "omnicrm-a@omnispa.example", "root@mail.gmail.com"),
        )
    )
    assert event.thread_refs == [
        "root@mail.gmail.com",
        "omnicrm-a@omnispa.example",
        "omnicrm-b@omnispa.example",
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (mails.auto_reply, "auto-reply"),
        (mails.list_mail, "bulk"),
        (mails.bounce, "bounce"),
        (mails.vietnamese_qp, None),
        (mails.gmail_reply, None),
        (lambda: mails.plain("x", extra_headers="Auto-Submitted: no\n"), None),
        (lambda: mails.plain("x", extra_headers="Auto-Submitted: auto-generated\n"), "auto-reply"),
        (lambda: mails.plain("x", extra_headers="X-Autoreply: yes\n"), "auto-reply"),
        (lambda: mails.plain("x", extra_headers="X-Autorespond: on\n"), "auto-reply"),
        (lambda: mails.plain("x", subject="Automatic reply: Booking"), "auto-reply"),
        (lambda: mails.plain("x", subject="Out of Office: back Monday"), "auto-reply"),
        (lambda: mails.plain("x", extra_headers="Precedence: junk\n"), "bulk"),
        (lambda: mails.plain("x", extra_headers="Precedence: list\n"), "bulk"),
        (
            lambda: mails.plain("x", extra_headers="List-Unsubscribe: <mailto:u@x.example>\n"),
            "bulk",
        ),
        (lambda: mails.plain("x", extra_headers="Feedback-ID: a:b:c\n"), "bulk"),
        (lambda: mails.plain("x", sender="mailer-daemon@mx.example.vn"), "bounce"),
        (lambda: mails.plain("x", extra_headers="X-Auto-Response-Suppress: All\n"), None),
    ],
)
def test_automated_mail_is_recognised(raw: Callable[[], bytes], reason: str | None) -> None:
    assert _event(raw()).automated == reason


def test_auto_response_suppress_is_kept_as_a_hint() -> None:
    raw = mails.plain("x", extra_headers="X-Auto-Response-Suppress: DR, AutoReply\n")
    assert _event(raw).meta["suppress_auto_reply"] is True
    assert "suppress_auto_reply" not in _event(mails.vietnamese_qp()).meta


def test_mail_from_our_own_address_is_ignored() -> None:
    parsed = parse_email(mails.from_ourselves(), own_address="Support@OmniSpa.example")
    assert parsed.events == () and parsed.ignored == "mail from our own address"


def test_decomposed_vietnamese_is_normalised_to_nfc() -> None:
    event = _event(mails.decomposed_vietnamese())
    assert event.text == "Xin chào shop" and event.subject == "Chào"
    assert unicodedata.is_normalized("NFC", event.text)


def test_missing_message_id_gets_a_stable_digest() -> None:
    raw = mails.no_message_id()
    first, second = _event(raw), _event(raw)
    assert first.external_event_id == second.external_event_id
    assert first.external_event_id == "sha256-" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"\x00\x01\x02\xff\xfe" * 50,
        bytes(range(256)) * 4,
        b"Subject: no sender\r\n\r\nbody\r\n",
        b"From: not an address\r\nSubject: x\r\n\r\nbody\r\n",
        b"just some text that is not a message",
    ],
)
def test_garbage_is_a_400(raw: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_email(raw, own_address=OWN)
    assert caught.value.status_code == 400


def test_verify_checks_the_hmac_of_the_raw_body() -> None:
    adapter = _adapter()
    body = mails.vietnamese_qp()
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    adapter.verify(headers={"x-omnicrm-signature": good}, body=body, url="")
    adapter.verify(
        headers={"x-omnicrm-signature": good.upper()[:7].lower() + good[7:].upper()},
        body=body,
        url="",
    )
    cases = [
        ({}, 401),
        ({"x-omnicrm-signature": good[:-1] + "0"}, 403),
        ({"x-omnicrm-signature": good[7:]}, 403),
    ]
    for headers, status in cases:
        with pytest.raises(WebhookRejected) as caught:
            adapter.verify(headers=headers, body=body, url="")
        assert caught.value.status_code == status
    with pytest.raises(WebhookRejected) as caught:
        adapter.verify(headers={"x-omnicrm-signature": good}, body=body + b" ", url="")
    assert caught.value.status_code == 403


def test_without_a_secret_the_webhook_is_refused_with_a_hint() -> None:
    with pytest.raises(WebhookRejected) as caught:
        _adapter(secret=None).verify(
            headers={"x-omnicrm-signature": "sha256=00"}, body=b"x", url=""
        )
    assert caught.value.status_code == 403
    assert "OMNICRM_EMAIL_WEBHOOK_SECRET" in caught.value.message


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hỏi về đơn hàng", "Re: Hỏi về đơn hàng"),
        ("Re: Booking", "Re: Booking"),
        ("RE: Booking", "RE: Booking"),
        ("AW: Termin", "AW: Termin"),
        ("", "Omni Spa & Clinic"),
        (None, "Omni Spa & Clinic"),
    ],
)
def test_reply_subject(subject: str | None, expected: str) -> None:
    assert reply_subject(subject, default="Omni Spa & Clinic") == expected


def test_references_keep_the_root_and_the_latest() -> None:
    refs = tuple(f"id{i}@x" for i in range(30))
    kept = references(refs, "last@x")
    assert len(kept) == 20 and kept[0] == "id0@x" and kept[-1] == "last@x"
    assert references(("a@x", "b@x"), "b@x") == ["a@x", "b@x"]


def _composed(author_type: str, context: ReplyContext) -> EmailMessage:
    adapter = _adapter()
    outbound = OutboundMessage(
        message_id="m42",
        channel="email",
        external_user_id=mails.LAN,
        text="Chào Lan,\nhẹn gặp bạn <thứ Bảy> & Chủ nhật.",
        context=context,
        metadata={"author_type": author_type},
    )
    built, own_id = compose(outbound, sender=adapter.sender, default_subject="Omni Spa")
    assert own_id == "omnicrm-m42@omnispa.example"
    parsed = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_compose_threads_the_reply_and_marks_bot_answers() -> None:
    context = ReplyContext(
        last_inbound_external_id="c2@mail.gmail.com",
        thread_refs=("c1@mail.gmail.com", "omnicrm-m1@omnispa.example"),
        subject="Hỏi về đơn hàng",
    )
    mail = _composed("bot", context)
    assert mail["Message-ID"] == "<omnicrm-m42@omnispa.example>"
    assert mail["In-Reply-To"] == "<c2@mail.gmail.com>"
    assert str(mail["References"]).split() == [
        "<c1@mail.gmail.com>",
        "<omnicrm-m1@omnispa.example>",
        "<c2@mail.gmail.com>",
    ]
    assert mail["Subject"] == "Re: Hỏi về đơn hàng"
    assert mail["From"].addresses[0].display_name == "Omni Spa & Clinic"
    assert mail["Auto-Submitted"] == "auto-replied"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "Chào Lan,\nhẹn gặp bạn <thứ Bảy> & Chủ nhật."
    assert "&lt;thứ Bảy&gt; &amp; Chủ nhật" in html.get_content()
    assert "<br>" in html.get_content()


def test_agent_replies_are_not_marked_automatic() -> None:
    mail = _composed("agent", ReplyContext())
    assert mail["Auto-Submitted"] is None
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert mail["Subject"] == "Omni Spa"


@pytest.mark.parametrize("returned", ["text/rfc822-headers", "message/rfc822"])
def test_a_bounce_of_our_reply_marks_it_failed(returned: str) -> None:
    raw = mails.bounce(original_id="omnicrm-m7@omnispa.example").replace(
        b"Content-Type: text/rfc822-headers", f"Content-Type: {returned}".encode()
    )
    parsed = parse_email(raw, own_address=OWN)
    [status] = parsed.statuses
    assert (status.channel, status.external_message_id, status.status) == (
        "email",
        "omnicrm-m7@omnispa.example",
        "failed",
    )
    assert status.error_code == "5.1.1" and status.error == "bounced: 550 5.1.1 User unknown"
    assert parsed.events[0].automated == "bounce"  # still stored, never answered


@pytest.mark.parametrize(
    "raw",
    [
        mails.bounce(action="delayed"),  # the server is still trying
        mails.bounce(original_id="someone-else@example.vn"),  # not one of ours
        mails.auto_reply(),
    ],
)
def test_other_reports_change_no_status(raw: bytes) -> None:
    assert parse_email(raw, own_address=OWN).statuses == ()


async def test_send_errors_say_whether_to_retry() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = EmailAdapter(
        webhook_secret=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username=None,
        smtp_password=None,
        smtp_starttls=False,
        email_from=OWN,
    )
    cases = [(mails.LAN, True), ("not-an-address", False), ("a\n@x.example", False)]
    for address, retryable in cases:
        outbound = OutboundMessage(
            message_id="m1", channel="email", external_user_id=address, text="hi"
        )
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(outbound)
        assert caught.value.retryable is retryable, caught.value.reason
