"""Recognise machine-sent mail (bounces, auto-replies, lists) that must never be answered."""

from __future__ import annotations

import re
from email.message import EmailMessage

from channels.email_headers import header_text

BOUNCE = "bounce"
AUTO_REPLY = "auto-reply"
BULK = "bulk"

# Outlook/Exchange and Gmail prefix their out-of-office subjects; the Vietnamese one is
# Outlook's localisation ⚠ observed, not specified.
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|automatische antwort|auto-?reply|out of office|trả lời tự động)"
    r"\s*:",
    re.IGNORECASE,
)
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})


def automated_reason(msg: EmailMessage, *, sender: str) -> str | None:
    """Why this mail is machine-sent, or None for a person writing (research/channels.md §5.5)."""
    if _is_bounce(msg, sender=sender):
        return BOUNCE
    if _is_auto_reply(msg):
        return AUTO_REPLY
    if _is_bulk(msg):
        return BULK
    return None


def _is_bounce(msg: EmailMessage, *, sender: str) -> bool:
    # RFC 3464 / RFC 6522: a DSN is multipart/report; report-type=delivery-status.
    if msg.get_content_type() == "multipart/report":
        return msg.get_param("report-type", "", header="content-type") == "delivery-status"
    # RFC 5321 §4.5.5: notifications are sent with the null reverse-path, seen as Return-Path: <>.
    if header_text(msg, "Return-Path").replace(" ", "") == "<>":
        return True
    return sender.split("@", 1)[0] in _DAEMONS


def _is_auto_reply(msg: EmailMessage) -> bool:
    # RFC 3834 §5: any Auto-Submitted value other than "no" means a machine sent it.
    submitted = header_text(msg, "Auto-Submitted").split(";", 1)[0].strip().lower()
    if submitted and submitted != "no":
        return True
    # Older responders that predate RFC 3834 (arp242.net/autoreply.html).
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    if header_text(msg, "Precedence").lower() == "auto_reply":
        return True
    if header_text(msg, "Delivered-To").lower() == "autoresponder":
        return True
    return bool(_AUTO_SUBJECT.match(header_text(msg, "Subject")))


def _is_bulk(msg: EmailMessage) -> bool:
    # RFC 2919 List-Id, RFC 2369 List-Unsubscribe, Google's Feedback-ID for bulk senders.
    if any(msg.get(name) is not None for name in ("List-Id", "List-Unsubscribe", "Feedback-ID")):
        return True
    # Precedence is non-standard (RFC 2076) but still what many list servers set.
    precedence = {header_text(msg, n).lower() for n in ("Precedence", "X-Precedence")}
    return bool(precedence & {"bulk", "junk", "list"})


def suppresses_auto_replies(msg: EmailMessage) -> bool:
    """The sender asked not to get automatic answers; kept as a hint, not as "automated".

    X-Auto-Response-Suppress (MS-OXCMAIL 2.2.3.2.14) is a request, not a marker of a machine:
    Exchange distribution lists add it to mail people write (glpi-project/glpi#2170,
    sisimai/p5-sisimai#491), so treating it as automated would leave customers unanswered.
    """
    values = {v.strip().lower() for v in header_text(msg, "X-Auto-Response-Suppress").split(",")}
    return bool(values & {"all", "autoreply"})
