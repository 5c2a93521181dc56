"""The flow engine's vocabulary: stored flow state, a step's context, its replies and effects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from conversations.flows.templates import Templates, default_templates
from crm_core.booking.rules import BookingRules
from crm_core.models import Conversation, Customer, Identity
from nlu.types import ParseResult

FLOW_KEY = "flow"  # Conversation.bot_state[FLOW_KEY] holds the running flow, if any


@dataclass(frozen=True)
class FlowRules:
    """What the flows need from settings (built by the composition root)."""

    booking: BookingRules = field(default_factory=BookingRules.build)
    booking_hours: str = "mon-sat 09:00-19:00"  # as configured, shown when a time is outside
    flow_timeout: timedelta = timedelta(minutes=30)
    region: str = "VN"
    business_name: str = "Omni Spa & Clinic"
    sla_hours: dict[str, float] | None = None  # per ticket severity; None: the tickets default
    slots_offered: int = 3
    templates: Templates = field(default_factory=default_templates)

    @property
    def zone(self) -> ZoneInfo:
        return self.booking.zone


@dataclass
class FlowState:
    """One conversation's running flow, as stored in JSON between messages."""

    name: str
    state: str
    slots: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "slots": self.slots,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> FlowState | None:
        """None for anything unreadable: a broken state must not wedge the conversation."""
        if not isinstance(data, dict) or not data.get("name") or not data.get("state"):
            return None
        slots = data.get("slots")
        return cls(
            name=str(data["name"]),
            state=str(data["state"]),
            slots=dict(slots) if isinstance(slots, dict) else {},
            updated_at=str(data.get("updated_at") or ""),
        )

    def touched(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.updated_at)
        except ValueError:
            return None


@dataclass(frozen=True)
class FlowContext:
    """Everything a step may read; lookups go through `session` (the engine's transaction)."""

    session: AsyncSession
    customer: Customer
    conversation: Conversation
    identity: Identity | None
    text: str
    parsed: ParseResult
    language: str
    now: datetime
    rules: FlowRules
    persona: dict[str, Any] = field(default_factory=dict)  # profile.profile() template variables

    def say(self, key: str, **values: Any) -> str:
        """One reply from the templates, in this turn's language, with the customer's details."""
        return self.rules.templates.render(key, self.language, **{**self.persona, **values})

    @property
    def intent(self) -> str:
        return self.parsed.intent.name

    @property
    def confidence(self) -> float:
        return self.parsed.intent.confidence

    def entities(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.parsed.entities if e.get("entity") == name]

    def entity(self, name: str) -> Any:
        found = self.entities(name)
        return found[0].get("value") if found else None


# Effects: what a step asks the engine to do, applied in the same transaction.


@dataclass(frozen=True)
class Book:
    service_key: str
    starts_at: datetime


@dataclass(frozen=True)
class Reschedule:
    appointment_id: str
    starts_at: datetime


@dataclass(frozen=True)
class CancelAppointment:
    appointment_id: str


@dataclass(frozen=True)
class OpenTicket:
    subject: str
    description: str
    order_id: str | None
    contact: str | None
    text: str
    severity: str | None = None


@dataclass(frozen=True)
class SaveContact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class OptOut:
    """The customer asked for no more proactive messages on this channel."""


Effect = Book | Reschedule | CancelAppointment | OpenTicket | SaveContact | OptOut


@dataclass
class Step:
    """A step's answer: replies, effects, the next state (None ends the flow), a handoff."""

    replies: list[str]
    state: FlowState | None
    effects: list[Effect] = field(default_factory=list)
    handoff: str | None = None  # the handoff reason, e.g. "complaint"
    offer_human: bool = False  # a following "yes" hands off (the bot's offer)
    intent: str | None = None  # logged on the message; default "flow/<name>"


@dataclass(frozen=True)
class Applied:
    """What applying one effect produced; `error` names a failure the flow may recover from."""

    effect: Effect
    result: Any = None
    error: str | None = None


class Flow(Protocol):
    """A dialogue: `start` on its trigger, then `step` per message; `after` sees effect results."""

    name: str

    async def start(self, ctx: FlowContext) -> Step: ...

    async def step(self, ctx: FlowContext, state: FlowState) -> Step: ...

    async def after(self, ctx: FlowContext, step: Step, applied: list[Applied]) -> Step: ...
