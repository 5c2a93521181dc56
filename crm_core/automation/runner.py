"""One automation pass (`run_due`) and the loop that runs it every tick inside serve/worker."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crm_core.automation.appointments import confirmations, no_shows, reminders
from crm_core.automation.receipts import receipts
from crm_core.automation.rules import AutomationRules
from crm_core.db import Database
from crm_core.outreach import Outcome
from crm_core.types import utcnow

log = logging.getLogger(__name__)

KINDS = ("confirmation", "confirmation_email", "reminder", "no_show", "receipt")


@dataclass
class Report:
    """Counts per (kind, outcome) of one pass, plus what was queued (for the CLI table)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    queued: list[Outcome] = field(default_factory=list)

    def add(self, kind: str, outcome: Outcome) -> None:
        if outcome.status == "already":
            return  # someone else did it: not this pass's work
        self.counts[(kind, outcome.status)] += 1
        if outcome.status == "queued":
            self.queued.append(outcome)

    def count(self, kind: str, status: str) -> int:
        return self.counts[(kind, status)]

    @property
    def total_queued(self) -> int:
        return len(self.queued)

    def rows(self) -> list[tuple[str, int, int, int, int]]:
        """(kind, queued, skipped, deferred, marked) for every kind, in a fixed order."""
        return [
            (
                kind,
                self.count(kind, "queued"),
                self.count(kind, "skipped"),
                self.count(kind, "deferred"),
                self.count(kind, "marked"),
            )
            for kind in KINDS
        ]


async def run_due(db: Database, *, now: datetime, rules: AutomationRules) -> Report:
    """Everything due at `now`, each exactly once (AutomationRun keys; safe to run twice)."""
    report = Report()
    for step in (confirmations, reminders, no_shows, receipts):
        await step(db, rules, now, report.add)
    return report


async def run_forever(
    db: Database,
    rules: AutomationRules,
    *,
    tick_seconds: float,
    on_queued: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Run a pass every tick until cancelled; a failing pass is logged and retried next tick."""
    while True:
        try:
            report = await run_due(db, now=clock(), rules=rules)
        except Exception:
            log.exception("automation pass failed; retrying next tick")
        else:
            if report.total_queued:
                log.info("automation queued %d messages", report.total_queued)
                if on_queued is not None:
                    on_queued()
        await asyncio.sleep(tick_seconds)
