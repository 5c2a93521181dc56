"""Slack mrkdwn in and out: customer text escaped for Slack, agent text unescaped for customers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CLAIM, RESOLVE, RETURN = "omnicrm_claim", "omnicrm_resolve", "omnicrm_return"
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


@dataclass(frozen=True)
class CustomerCard:
    """What an agent needs at a glance when a conversation arrives in the inbox."""

    conversation_id: str
    name: str
    channels: list[str]
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    lifetime_value: str = "0"
    last_purchase: str | None = None
    reason: str | None = None


def card_text(card: CustomerCard) -> str:
    """The notification / fallback text of the parent message."""
    return f"Customer {escape(card.name)} wants a human ({', '.join(card.channels)})"


def card_blocks(card: CustomerCard, *, status: str, owner: str | None = None) -> list[Any]:
    """Block Kit card: who the customer is, why they are here, and the three actions."""
    fields = [
        f"*Channels*\n{', '.join(card.channels) or '-'}",
        f"*Phone*\n{', '.join(card.phones) or '-'}",
        f"*E-mail*\n{escape(', '.join(card.emails)) or '-'}",
        f"*Lifetime value*\n{card.lifetime_value}",
        f"*Last purchase*\n{escape(card.last_purchase or '-')}",
        f"*Why*\n{escape(card.reason or 'asked for a human')}",
    ]
    blocks: list[Any] = [
        _section(f"*{escape(card.name)}* · conversation `{card.conversation_id}`"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": status_line(status, owner)}]},
    ]
    if status != "resolved":
        blocks.append({"type": "actions", "elements": _buttons(card.conversation_id, status)})
    return blocks


def status_line(status: str, owner: str | None) -> str:
    """One line that says who has the conversation now."""
    lines = {
        "waiting_agent": ":hourglass: waiting for an agent",
        "agent": f":bust_in_silhouette: claimed by {escape(owner or 'an agent')}",
        "resolved": f":white_check_mark: resolved by {escape(owner or 'an agent')}",
        "bot": f":robot_face: returned to the bot by {escape(owner or 'an agent')}",
    }
    return lines.get(status, status)


def _buttons(conversation_id: str, status: str) -> list[Any]:
    wanted = [(RESOLVE, "Resolve"), (RETURN, "Return to bot")]
    if status in ("waiting_agent", "bot"):
        wanted.insert(0, (CLAIM, "Claim"))
    buttons = []
    for action_id, label in wanted:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "value": conversation_id,
        }
        if action_id == wanted[0][0]:
            button["style"] = "primary"
        buttons.append(button)
    return buttons


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


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
