"""Two workers, each running the automation pass and then its dispatcher, at the same moment:
every reminder, confirmation and receipt reaches the customer exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from channels.base import DeliveryReceipt, OutboundMessage
from conversations.dispatcher import Dispatcher
from conversations.metrics import EngineMetrics
from crm_core.automation import run_due
from crm_core.db import Database
from crm_core.models import AutomationRun, Purchase
from tests.crm_core.test_automation import (
    NOW,
    outbound,
    rules,
    seed_appointment,
    seed_customer,
    seed_service,
)

CUSTOMERS = 12


class RecordingChannel:
    """A fake provider: records (channel, recipient, our message id) and lets others run."""

    max_sends_per_second = None

    def __init__(self, name: str, sent: list[tuple[str, str, str]]) -> None:
        self.name = name
        self.sent = sent

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        await asyncio.sleep(0)
        self.sent.append((self.name, message.external_user_id, message.message_id))
        return DeliveryReceipt(external_id=f"{self.name}-{len(self.sent)}")

    async def close(self) -> None:
        return None


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two Database objects on one database: what two worker processes have."""
    first, second = Database(database_url), Database(database_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def _seed(db: Database) -> None:
    """Each customer: a reminder due (2 h before), an invitation e-mail and a receipt."""
    service = await seed_service(db)
    for n in range(CUSTOMERS):
        who = await seed_customer(db, external_id=f"44000000{n:02d}", email=f"khach{n}@example.vn")
        await seed_appointment(
            db,
            who,
            service,
            starts_at=NOW + timedelta(hours=2),
            created_at=NOW - timedelta(hours=3),
        )
        async with db.transaction() as session:
            session.add(
                Purchase(
                    customer_id=who.customer_id,
                    description="Chăm sóc da mặt",
                    amount=450_000,
                    currency="VND",
                    items=[],
                    purchased_at=NOW,
                    created_at=NOW,
                )
            )


async def _worker(db: Database, sent: list[tuple[str, str, str]]) -> None:
    """What `omnicrm worker` does each tick: the automation pass, then the outbox."""
    await run_due(db, now=NOW, rules=rules(quiet="off"))
    dispatcher = Dispatcher(
        db=db,
        adapters={name: RecordingChannel(name, sent) for name in ("telegram", "email")},  # type: ignore[misc]
        metrics=EngineMetrics(),
        max_attempts=3,
        poll_seconds=1.0,
    )
    while await dispatcher.drain():
        pass


async def test_two_workers_tell_each_customer_each_thing_once(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    await _seed(first)
    sent: list[tuple[str, str, str]] = []
    await asyncio.gather(_worker(first, sent), _worker(second, sent))

    async with first.reading() as session:
        queued = (
            await session.scalars(select(AutomationRun).where(AutomationRun.outcome == "queued"))
        ).all()
    kinds = Counter(run.kind for run in queued)
    assert kinds == Counter(
        {"reminder": CUSTOMERS, "confirmation_email": CUSTOMERS, "receipt": CUSTOMERS}
    )
    messages = await outbound(first)
    assert len(messages) == 3 * CUSTOMERS  # one outbox row per claimed key, none twice
    assert sorted(m.id for m in messages) == sorted(run.data["message_id"] for run in queued)
    assert Counter(m.status for m in messages) == Counter({"sent": 3 * CUSTOMERS})
    by_message = Counter(message_id for _, _, message_id in sent)
    assert by_message == Counter({m.id: 1 for m in messages})  # each sent exactly once
    per_channel = Counter(channel for channel, _, _ in sent)
    assert per_channel == Counter({"telegram": CUSTOMERS, "email": 2 * CUSTOMERS})
