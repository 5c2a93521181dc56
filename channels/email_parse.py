"""Pure RFC 5322 parsing: one raw message in, one normalised InboundEvent out (no I/O)."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import parsedate_to_datetime

from channels.base import Attachment, InboundEvent, ParsedWebhook, SharedContact, WebhookRejected
from channels.email_automated import BOUNCE, automated_reason, suppresses_auto_replies
from channels.email_dsn import bounce_statuses
from channels.email_headers import header_text, message_ids, nfc, sender
from channels.email_html import html_to_text
from channels.email_quotes import strip_reply

CHANNEL = "email"
# Kept on the event's `raw` for support and audits; the body and attachments are not.
_RAW_HEADERS = (
    "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
    "References", "Return-Path", "Auto-Submitted", "Precedence", "List-Id", "Content-Type",
)  # fmt: skip


def parse_email(raw: bytes, *, own_address: str | None = None) -> ParsedWebhook:
    """Raw message bytes to an event; WebhookRejected(400) when it is not a usable message."""
    msg = _message(raw)
    found = sender(msg)
    if found is None:
        raise WebhookRejected(400, "invalid_message", "the message has no usable From address")
    address, name = found
    if own_address and address == own_address.lower():
        # Loop guard: our own replies can come back (a Bcc, a shared mailbox, a forward rule).
        return ParsedWebhook(ignored="mail from our own address")
    message_id = _message_id(msg, raw)
    full_text, from_html = _body_text(msg)
    automated = automated_reason(msg, sender=address)
    event = InboundEvent(
        channel=CHANNEL,
        external_user_id=address,
        external_event_id=message_id,
        external_message_id=message_id,
        text=strip_reply(full_text),
        attachments=_attachments(msg, message_id=message_id),
        contact=SharedContact(email=address, name=name, verified=True),
        display_name=name,
        language_hint=header_text(msg, "Content-Language").split(",")[0].strip() or None,
        occurred_at=_occurred_at(msg),
        thread_refs=thread_refs(msg),
        subject=header_text(msg, "Subject") or None,
        automated=automated,
        meta=_meta(msg, full_text=full_text, from_html=from_html),
        raw={"headers": _headers(msg), "size": len(raw)},
    )
    # A bounce of one of our replies also marks that reply failed (it never arrived).
    statuses = tuple(bounce_statuses(msg)) if automated == BOUNCE else ()
    return ParsedWebhook(events=[event], statuses=statuses)


def _message(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise WebhookRejected(400, "invalid_message", "the body is empty")
    if b"\x00" in raw[:4096]:
        raise WebhookRejected(
            400, "invalid_message", "the body is binary, not an RFC 5322 message"
        )
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; anything it still rejects is malformed
        raise WebhookRejected(400, "invalid_message", "the body is not a message") from exc
    if not isinstance(msg, EmailMessage):  # policy.default always builds one; keeps mypy sure
        raise WebhookRejected(400, "invalid_message", "the body is not a message")
    return msg


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    """Message-ID without brackets; without one, a digest so a redelivery still dedupes."""
    ids = message_ids(header_text(msg, "Message-ID"))
    return ids[0] if ids else f"sha256-{hashlib.sha256(raw).hexdigest()}"


def thread_refs(msg: EmailMessage) -> list[str]:
    """Earlier ids this mail answers: References (oldest first), then In-Reply-To; deduped.

    RFC 5322 §3.6.4: References is the parent's References plus the parent's Message-ID, so
    this order is the thread's own and can be echoed back in our reply's References.
    """
    refs = message_ids(header_text(msg, "References"))
    refs += message_ids(header_text(msg, "In-Reply-To"))
    return list(dict.fromkeys(refs))


def _body_text(msg: EmailMessage) -> tuple[str, bool]:
    """The text/plain body, else the HTML one as text; (text, came_from_html)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", False
    content = _decoded(part)
    from_html = part.get_content_type() == "text/html"
    if from_html:
        content = html_to_text(content)
    return nfc(content.replace("\r\n", "\n").replace("\r", "\n")).strip(), from_html


def _decoded(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _attachments(msg: EmailMessage, *, message_id: str) -> list[Attachment]:
    """Metadata only: the content stays in the mailbox (ref names the part)."""
    found: list[Attachment] = []
    for index, part in enumerate(_attachment_parts(msg)):
        mime = part.get_content_type()
        name = part.get_filename()  # RFC 2231 and RFC 2047 names are decoded here
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                kind=_kind(mime),
                ref=f"email:{message_id}:{index}",
                name=nfc(name) if name else None,
                mime_type=mime,
                size=len(payload) if isinstance(payload, bytes) else None,
            )
        )
    return found


def _attachment_parts(msg: EmailMessage) -> list[EmailMessage]:
    parts: list[EmailMessage] = []
    for part in msg.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        if part.get_content_maintype() == "multipart":  # e.g. related inside mixed: look inside
            parts.extend(_attachment_parts(part))
        else:
            parts.append(part)
    return parts


def _kind(mime: str) -> str:
    major = mime.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "document"


def _occurred_at(msg: EmailMessage) -> datetime:
    """The Date header, but never in the future (sender clocks drift) nor naive."""
    now = datetime.now(UTC)
    try:
        sent = parsedate_to_datetime(header_text(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return now
    if sent.tzinfo is None:  # "-0000": RFC 5322 §3.3 says UTC with no zone information
        sent = sent.replace(tzinfo=UTC)
    return min(sent.astimezone(UTC), now)


def _meta(msg: EmailMessage, *, full_text: str, from_html: bool) -> dict[str, object]:
    meta: dict[str, object] = {"original_text": full_text, "html": from_html}
    if to := header_text(msg, "To"):
        meta["to"] = to
    if suppresses_auto_replies(msg):
        meta["suppress_auto_reply"] = True
    return meta


def _headers(msg: EmailMessage) -> dict[str, str]:
    return {name: value for name in _RAW_HEADERS if (value := header_text(msg, name))}
