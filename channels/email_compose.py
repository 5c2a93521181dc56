"""Building our reply as an RFC 5322 message that threads under the customer's mail (pure)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from channels.base import OutboundMessage

# A References header grows with every turn; keep the root and the most recent ids
# (common client practice, e.g. Thunderbird), RFC 5322 sets no limit but servers do.
MAX_REFERENCES = 20
# "Re:" and the usual localised reply prefixes (Outlook de "AW:", nordic "SV:", vi "TL:").
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|tl)\s*:", re.IGNORECASE)


def our_message_id(message_id: str, *, domain: str) -> str:
    """Our Message-ID without brackets; its left part is our own message id, so it is unique."""
    return f"omnicrm-{message_id}@{domain}"


def reply_subject(subject: str | None, *, default: str) -> str:
    """'Re: <subject>' without stacking prefixes; the default when the thread had none."""
    subject = (subject or "").strip()
    if not subject:
        return default
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def references(thread_refs: tuple[str, ...], last_inbound: str | None) -> list[str]:
    """RFC 5322 §3.6.4: the parent's References followed by the parent's own Message-ID."""
    ids = list(dict.fromkeys([*thread_refs, *([last_inbound] if last_inbound else [])]))
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def compose(
    message: OutboundMessage,
    *,
    sender: Address,
    default_subject: str,
    now: datetime | None = None,
) -> tuple[EmailMessage, str]:
    """The reply to send and its Message-ID (without brackets)."""
    context = message.context
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = message.external_user_id
    msg["Subject"] = reply_subject(context.subject, default=default_subject)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    own_id = our_message_id(message.message_id, domain=sender.domain)
    msg["Message-ID"] = f"<{own_id}>"
    if context.last_inbound_external_id:
        msg["In-Reply-To"] = f"<{context.last_inbound_external_id}>"
    if refs := references(context.thread_refs, context.last_inbound_external_id):
        msg["References"] = " ".join(f"<{ref}>" for ref in refs)
    if message.metadata.get("author_type") == "bot":
        # RFC 3834 §5: mark automatic answers so other responders do not answer them back,
        # and ask Exchange not to send its out-of-office replies to a bot (MS-OXCMAIL).
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg.set_content(message.text)
    msg.add_alternative(_html(message.text), subtype="html")
    for file in message.files:
        # The alternative body becomes the first part of a multipart/mixed; non-ASCII names
        # go out as RFC 2231 `filename*=utf-8''...`.
        maintype, subtype = _mime(file.mime_type)
        msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # email adds it to inner parts too; it belongs on top only
    return msg, own_id


def _mime(mime_type: str) -> tuple[str, str]:
    maintype, _, subtype = mime_type.partition("/")
    if not maintype or not subtype or maintype.lower() in ("multipart", "message"):
        return "application", "octet-stream"  # never let a stored type restructure the mail
    return maintype.lower(), subtype.split(";", 1)[0].strip().lower() or "octet-stream"


def _html(text: str) -> str:
    body = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\n")
    return f'<!DOCTYPE html>\n<html><body><div dir="auto">{body}</div></body></html>\n'
