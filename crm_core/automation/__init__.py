"""Proactive work that falls due with time: booking confirmations (with the .ics e-mail),
reminders before appointments, no-show marking and purchase receipts.

    rules = AutomationRules.from_settings(settings, channels=runtime.adapters)
    report = await run_due(db, now=utcnow(), rules=rules)   # then wake/drain the dispatcher

Every send is claimed under an AutomationRun key in the transaction that queues it, so a pass
run twice, after a restart or by several workers sends each message once (see outreach).

Several workers: the key is the table's primary key, inserted with ON CONFLICT DO NOTHING, so
of two passes racing for one reminder the second waits for the first's commit and finds the key
taken (on PostgreSQL the appointment row is also locked FOR UPDATE SKIP LOCKED, so the second
usually skips it outright; on SQLite the passes take turns on the one write lock). The key and
the queued outbox row commit together: a pass that dies before its commit leaves neither, and
the next tick queues the message; once committed, the dispatcher owns it, and a dispatcher that
dies while sending leaves a claim that runs out, after which another worker sends it.
"""

from __future__ import annotations

from crm_core.automation.rules import AutomationRules, parse_reminder_hours
from crm_core.automation.runner import KINDS, Report, run_due, run_forever

__all__ = ["KINDS", "AutomationRules", "Report", "parse_reminder_hours", "run_due", "run_forever"]
