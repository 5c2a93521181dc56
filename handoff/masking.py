"""Contact details shown to agents partly hidden, when the business asks for it.

`OMNICRM_MASK_CONTACTS=true` masks phones and e-mails for the agent role in the console and
the agent-role API; supervisors and admins see them whole. Slack has its own switch
(`OMNICRM_SLACK_MASK_CONTACTS`), because everyone in the inbox channel reads the same card.
"""

from __future__ import annotations

from dataclasses import replace

from handoff.card import Card


def mask_phone(phone: str) -> str:
    """`+84912345678` → `+8491****678`: enough to recognise a caller, not to dial them."""
    if len(phone) <= 8:
        return phone[:2] + "****"
    return f"{phone[:5]}****{phone[-3:]}"


def mask_email(email: str) -> str:
    """`lan@example.com` → `l***@example.com`: the domain stays, the mailbox does not."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def mask_handle(channel: str, external_id: str) -> str:
    """A channel handle that is itself a phone (SMS) or an address (e-mail), masked as one."""
    if channel == "sms":
        return mask_phone(external_id)
    if channel == "email":
        return mask_email(external_id)
    return external_id


def masked_card(card: Card) -> Card:
    """The same card with its phones and e-mails masked."""
    return replace(
        card,
        phones=[mask_phone(p) for p in card.phones],
        emails=[mask_email(e) for e in card.emails],
    )
