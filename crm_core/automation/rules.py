"""The automation policy, built from settings by the composition root (crm_core reads no env)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from crm_core.outreach import NO_QUIET_HOURS, QuietHours


def parse_reminder_hours(spec: str) -> tuple[float, ...]:
    """ "24,2" → (24.0, 2.0): largest first; empty means no reminders."""
    hours: set[float] = set()
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        try:
            value = float(part.strip().removesuffix("h"))
        except ValueError as exc:
            raise ValueError(f"reminder hours must be numbers like '24,2', not {spec!r}") from exc
        if value <= 0:
            raise ValueError(f"reminder hours must be positive, not {part.strip()!r}")
        hours.add(value)
    return tuple(sorted(hours, reverse=True))


def hours_label(hours: float) -> str:
    """The hours as they appear in keys: 24 → '24h', 1.5 → '1.5h'."""
    return f"{hours:g}h"


@dataclass(frozen=True)
class AutomationRules:
    """What to send when; `channels` are the channels this process can send on."""

    channels: frozenset[str]
    reminder_hours: tuple[float, ...] = (24.0, 2.0)
    quiet_hours: QuietHours = NO_QUIET_HOURS
    no_show_grace: timedelta = timedelta(minutes=30)
    timezone: str = "Asia/Ho_Chi_Minh"
    business_name: str = "Omni Spa & Clinic"
    organizer_email: str | None = None  # the From address; the .ics ORGANIZER
    max_file_bytes: int = 20 * 1024 * 1024
    # Receipts go only for purchases recorded (and made) this recently: an import of old sales
    # or seeded demo data must not mail anyone.
    receipt_window: timedelta = timedelta(hours=48)
    # Confirmations go for bookings made or moved this recently (not for a backlog).
    confirm_window: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: Any, *, channels: Collection[str]) -> AutomationRules:
        """From omnicrm's Settings (REMINDER_HOURS, QUIET_HOURS, NO_SHOW_GRACE_MINUTES, ...)."""
        sender = parseaddr(settings.email_from or "")[1] or None
        return cls(
            channels=frozenset(channels),
            reminder_hours=parse_reminder_hours(settings.reminder_hours),
            quiet_hours=QuietHours.parse(settings.quiet_hours, timezone=settings.timezone),
            no_show_grace=timedelta(minutes=settings.no_show_grace_minutes),
            timezone=settings.timezone,
            business_name=settings.business_name,
            organizer_email=sender,
            max_file_bytes=settings.media_max_bytes,
        )
