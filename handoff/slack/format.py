"""Slack mrkdwn in and out: customer text escaped for Slack, agent text unescaped for customers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

MAX_SECTION = 2900  # a section block's text may hold 3000 characters
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def escape(text: str) -> str:
    """Show customer text literally: no links, mentions or `<!channel>` pings from outside."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str, names: Mapping[str, str] | None = None) -> str:
    """Turn an agent's mrkdwn into plain text for SMS, Zalo, Telegram or e-mail."""
    known = names or {}
    plain = _LINK.sub(lambda match: _plain_link(match, known), text)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _plain_link(match: re.Match[str], names: Mapping[str, str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return label or names.get(target[1:], "")
    if target.startswith("#"):
        return f"#{label}" if label else ""
    if target.startswith("!"):
        return label or ""
    return f"{label} ({target})" if label and label != target else target


def mentioned_users(text: str) -> list[str]:
    """Slack user ids mentioned as `<@U…>`, to look their names up."""
    return [m.group(1)[1:] for m in _LINK.finditer(text) if m.group(1).startswith("@")]


def local_time(when: datetime, timezone: str, *, now: datetime | None = None) -> str:
    """`HH:MM` in the business time zone, with the date when it is not today."""
    zone = ZoneInfo(timezone)
    shown = when.astimezone(zone)
    today = (now or datetime.now(zone)).astimezone(zone).date()
    return f"{shown:%H:%M}" if shown.date() == today else f"{shown:%H:%M} on {shown:%a %d %b}"


def minutes(seconds: float | int | None) -> int:
    """Whole minutes for thread lines (at least 1 once anything has elapsed)."""
    value = float(seconds or 0)
    return max(1, round(value / 60)) if value > 0 else 0


def transcript_line(author: str, text: str) -> str:
    """One transcript line, customer words quoted and escaped."""
    body = escape(text) if text else "_(attachment)_"
    return f"*{escape(author)}:* {body}"


def transcript_text(lines: list[str], *, limit: int = 3500) -> str:
    """The history so far in one thread reply (oldest lines dropped past Slack's comfort size)."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        size += len(line) + 1
        if size > limit:
            kept.append("_…earlier messages omitted_")
            break
        kept.append(line)
    return "*Transcript so far*\n" + "\n".join(reversed(kept)) if kept else "_(no messages yet)_"
