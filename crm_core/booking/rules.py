"""The booking policy (grid, hours, lead, horizon), built from settings by the composition root
so crm_core never reads the environment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.hours import BusinessHours


@dataclass(frozen=True)
class BookingRules:
    zone: ZoneInfo
    hours: BusinessHours  # when appointments may take place (start and end), local time
    slot_minutes: int = 15
    lead_minutes: int = 60
    horizon_days: int = 60

    @classmethod
    def build(
        cls,
        *,
        timezone: str = "Asia/Ho_Chi_Minh",
        hours: str = "mon-sat 09:00-19:00",
        slot_minutes: int = 15,
        lead_minutes: int = 60,
        horizon_days: int = 60,
    ) -> BookingRules:
        if slot_minutes <= 0 or 1440 % slot_minutes:
            raise ValueError("the booking grid must divide a day (e.g. 5, 10, 15, 30, 60)")
        return cls(
            zone=ZoneInfo(timezone),
            hours=BusinessHours.parse(hours, timezone=timezone),
            slot_minutes=slot_minutes,
            lead_minutes=lead_minutes,
            horizon_days=horizon_days,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> BookingRules:
        """From anything with the BOOKING_* and TIMEZONE attributes (omnicrm's Settings)."""
        return cls.build(
            timezone=settings.timezone,
            hours=settings.booking_hours,
            slot_minutes=settings.booking_slot_minutes,
            lead_minutes=settings.booking_lead_minutes,
            horizon_days=settings.booking_horizon_days,
        )

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def on_grid(self, at: datetime) -> bool:
        """Grid units count from local midnight, so 09:00, 09:15, ... in the business's zone."""
        local = self.local(at)
        minutes = local.hour * 60 + local.minute
        return local.second == 0 and local.microsecond == 0 and minutes % self.slot_minutes == 0

    def earliest(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.lead_minutes)

    def latest(self, now: datetime) -> datetime:
        return now + timedelta(days=self.horizon_days)
