"""Business hours for the handoff (after-hours note); the parser lives in crm_core, shared with
the booking calendar."""

from __future__ import annotations

from crm_core.hours import DAYS, BusinessHours

__all__ = ["DAYS", "BusinessHours"]
