"""Bounce reports (RFC 3464 DSNs) about our own replies, read as "failed" delivery statuses."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser

from channels.base import StatusUpdate
from channels.email_headers import message_ids

CHANNEL = "email"
OUR_ID_PREFIX = "omnicrm-"


def bounce_statuses(msg: EmailMessage) -> list[StatusUpdate]:
    """A `failed` status for our message that a DSN reports undeliverable, if it names it.

    RFC 6522 puts the report in multipart/report: a message/delivery-status part (RFC 3464
    per-recipient fields: Action, Status, Diagnostic-Code) and the returned message or its
    headers. Only "Action: failed" is final; "delayed" means the server keeps trying.
    """
    if msg.get_content_type() != "multipart/report":
        return []
    failure = _failure(msg)
    original = _original_id(msg)
    if failure is None or original is None or not original.startswith(OUR_ID_PREFIX):
        return []
    status, diagnostic = failure
    return [
        StatusUpdate(
            channel=CHANNEL,
            external_message_id=original,
            status="failed",
            error=f"bounced: {diagnostic or status}"[:300],
            error_code=status or None,
        )
    ]


def _failure(msg: EmailMessage) -> tuple[str, str] | None:
    """(Status, Diagnostic-Code) of the first recipient whose Action is failed."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            if str(block.get("Action", "")).strip().lower() == "failed":
                return str(block.get("Status", "")).strip(), _diagnostic(block)
    return None


def _diagnostic(block: Message) -> str:
    value = " ".join(str(block.get("Diagnostic-Code", "")).split())
    return value.split(";", 1)[-1].strip()  # "smtp; 550 5.1.1 User unknown"


def _original_id(msg: EmailMessage) -> str | None:
    """The Message-ID of the returned message (whole, or its headers only)."""
    for part in msg.walk():
        content_type = part.get_content_type()
        headers: Message | None = None
        if content_type == "message/rfc822":
            payload = part.get_payload()
            first = payload[0] if isinstance(payload, list) and payload else None
            headers = first if isinstance(first, Message) else None
        elif content_type == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            headers = HeaderParser(policy=policy.default).parsestr(text)
        if headers is not None and (ids := message_ids(str(headers.get("Message-ID", "")))):
            return ids[0]
    return None
