"""Enumerations of the domain; conversation status moves only along explicit transitions."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Channel names used everywhere (API, identities, messages)."""

    TELEGRAM = "telegram"
    ZALO = "zalo"
    SMS = "sms"
    EMAIL = "email"
    SLACK = "slack"
    WEBCHAT = "webchat"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class AuthorType(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """Delivery status; outbound rows in `queued` are the outbox."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class Role(StrEnum):
    """Roles are ordered: agent < supervisor < admin."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, required: Role) -> bool:
        """True when this role is at least `required`."""
        return self.rank >= required.rank


_ROLE_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class LifecycleStage(StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    LOYAL = "loyal"
    CHURNED = "churned"


class IllegalTransition(ValueError):
    """A conversation was asked to move where its state machine does not allow."""


class ConversationStatus(StrEnum):
    """bot → waiting_agent → agent → resolved; an agent may return it to the bot."""

    BOT = "bot"
    WAITING_AGENT = "waiting_agent"
    AGENT = "agent"
    RESOLVED = "resolved"

    def can_move_to(self, target: ConversationStatus) -> bool:
        return target in _TRANSITIONS[self]

    def transition(self, target: ConversationStatus) -> ConversationStatus:
        """Return `target` if the move is legal, else raise IllegalTransition."""
        if not self.can_move_to(target):
            raise IllegalTransition(f"conversation cannot move from {self} to {target}")
        return target


_TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.BOT: frozenset(
        {ConversationStatus.WAITING_AGENT, ConversationStatus.AGENT, ConversationStatus.RESOLVED}
    ),
    ConversationStatus.WAITING_AGENT: frozenset(
        {ConversationStatus.AGENT, ConversationStatus.BOT, ConversationStatus.RESOLVED}
    ),
    ConversationStatus.AGENT: frozenset(
        {ConversationStatus.BOT, ConversationStatus.RESOLVED, ConversationStatus.WAITING_AGENT}
    ),
    ConversationStatus.RESOLVED: frozenset(),
}
