"""Proactive work that falls due with time: booking confirmations (with the .ics e-mail),
reminders before appointments, no-show marking and purchase receipts.

    rules = AutomationRules.from_settings(settings, channels=runtime.adapters)
    report = await run_due(db, now=utcnow(), rules=rules)   # then wake/drain the dispatcher

Every send is claimed under an AutomationRun key in the transaction that queues it, so a pass
run twice, after a restart or by several workers sends each message once (see outreach).
"""

from __future__ import annotations

from crm_core.automation.rules import AutomationRules, parse_reminder_hours
from crm_core.automation.runner import KINDS, Report, run_due, run_forever

__all__ = ["KINDS", "AutomationRules", "Report", "parse_reminder_hours", "run_due", "run_forever"]
