"""The receipt e-mail after a purchase is recorded (`POST /api/v1/purchases`): once per purchase,
only by e-mail (a receipt is a document), skipped when no address is known."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from crm_core.automation import texts
from crm_core.automation.appointments import BATCH, Tally
from crm_core.automation.rules import AutomationRules
from crm_core.db import Database
from crm_core.models import AutomationRun, Customer, Purchase
from crm_core.outreach import send_proactive


def receipt_key(purchase_id: str) -> str:
    return f"receipt:{purchase_id}"


async def receipts(db: Database, rules: AutomationRules, now: datetime, tally: Tally) -> None:
    since = now - rules.receipt_window
    key = AutomationRun.key == ("receipt:" + Purchase.id)
    stmt = (
        select(Purchase.id)
        .outerjoin(AutomationRun, key)
        .where(
            AutomationRun.key.is_(None),
            Purchase.created_at >= since,
            Purchase.purchased_at >= since,
        )
        .order_by(Purchase.created_at, Purchase.id)
        .limit(BATCH)
    )
    async with db.reading() as session:
        pending = list((await session.execute(stmt)).scalars())
    for purchase_id in pending:
        async with db.transaction() as session:
            purchase = await session.get(Purchase, purchase_id)
            if purchase is None:
                continue
            customer = await session.get_one(Customer, purchase.customer_id)
            outcome = await send_proactive(
                session,
                customer_id=purchase.customer_id,
                text_by_language=texts.receipt(
                    purchase, name=customer.name, business=rules.business_name, tz=rules.timezone
                ),
                kind="receipt",
                key=receipt_key(purchase.id),
                now=now,
                channels=rules.channels,
                prefer_channel="email",
                fallback=(),
                quiet_hours=rules.quiet_hours,
                data={"purchase_id": purchase.id},
            )
            tally("receipt", outcome)
