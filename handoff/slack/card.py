"""The customer card: the thread's parent message, redrawn whenever its state changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.card import Card
from handoff.masking import mask_email, mask_phone
from handoff.slack.format import MAX_SECTION, escape, local_time

CLAIM, RESOLVE, RETURN = "omnicrm_claim", "omnicrm_resolve", "omnicrm_return"
SNOOZE, UNSNOOZE = "omnicrm_snooze", "omnicrm_unsnooze"
SNOOZE_CHOICES = (
    ("30m", "30 min"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("tomorrow", "Tomorrow 9:00"),
)


@dataclass(frozen=True)
class CardState:
    """What the card shows about ownership; `owner` is ready-made mrkdwn (a name or `<@U…>`)."""

    status: str
    owner: str | None = None
    snoozed_until: datetime | None = None

    def key(self) -> dict[str, Any]:
        """The JSON kept in the thread ref to tell whether the card needs a redraw."""
        until = self.snoozed_until.isoformat() if self.snoozed_until else None
        return {"status": self.status, "owner": self.owner, "snoozed_until": until}


def card_text(card: Card) -> str:
    """The notification / fallback text of the parent message."""
    return f"Customer {escape(card.name)} wants a human ({', '.join(card.channels)})"


def card_blocks(card: Card, state: CardState, *, timezone: str, mask: bool = False) -> list[Any]:
    """Block Kit card: who the customer is, why they are here, and what can be done now."""
    phones = [mask_phone(p) for p in card.phones] if mask else card.phones
    emails = [mask_email(e) for e in card.emails] if mask else card.emails
    fields = [
        f"*Channels*\n{', '.join(card.channels) or '-'}",
        f"*Phone*\n{', '.join(phones) or '-'}",
        f"*E-mail*\n{escape(', '.join(emails)) or '-'}",
        f"*Lifetime value*\n{card.lifetime_value}",
        f"*Last purchase*\n{escape(card.last_purchase or '-')}",
        f"*Why*\n{escape(card.reason or 'asked for a human')}",
        f"*Stage*\n{escape(card.lifecycle_stage)}",
        f"*Language*\n{escape(card.language or '-')}",
    ]
    blocks: list[Any] = [
        _section(f"*{escape(card.name)}* · conversation `{card.conversation_id}`"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": status_line(state, timezone=timezone)}],
        },
    ]
    if state.status != "resolved":
        blocks.append(
            {"type": "actions", "block_id": "omnicrm_actions", "elements": _actions(card, state)}
        )
    return blocks


def status_line(state: CardState, *, timezone: str) -> str:
    """One line that says who has the conversation now (and whether it sleeps)."""
    owner = state.owner or "an agent"
    lines = {
        "waiting_agent": ":hourglass: waiting for an agent",
        "agent": f":bust_in_silhouette: claimed by {owner}",
        "resolved": f":white_check_mark: resolved by {owner}",
        "bot": f":robot_face: returned to the bot by {owner}",
    }
    line = lines.get(state.status, state.status)
    if state.snoozed_until is not None and state.status != "resolved":
        line += f" · :zzz: snoozed until {local_time(state.snoozed_until, timezone)}"
    return line


def _actions(card: Card, state: CardState) -> list[Any]:
    wanted = [(RESOLVE, "Resolve"), (RETURN, "Return to bot")]
    if state.status in ("waiting_agent", "bot"):
        wanted.insert(0, (CLAIM, "Claim"))
    if state.snoozed_until is not None:
        wanted.append((UNSNOOZE, "Unsnooze"))
    elements: list[Any] = []
    for action_id, label in wanted:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "value": card.conversation_id,
        }
        if action_id == wanted[0][0]:
            button["style"] = "primary"
        elements.append(button)
    if state.status in ("waiting_agent", "agent"):
        elements.append(_snooze_menu(card.conversation_id))
    return elements


def _snooze_menu(conversation_id: str) -> dict[str, Any]:
    """A static_select: the chosen option's value is `<conversation id>|<duration>`."""
    return {
        "type": "static_select",
        "action_id": SNOOZE,
        "placeholder": {"type": "plain_text", "text": "Snooze"},
        "options": [
            {"text": {"type": "plain_text", "text": label}, "value": f"{conversation_id}|{spec}"}
            for spec, label in SNOOZE_CHOICES
        ],
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}
