"""Lead → customer conversion over a range, from customer and purchase rows.

A customer converts at their first purchase (the `purchased_at` of the earliest purchase row;
each purchase is also a `purchase_recorded` timeline event). Leads of a range: customers who
were still unconverted when it began and were active in it (created in it, opened a
conversation in it, or made their first purchase in it), except those whose stage says
customer, loyal or churned without any purchase recorded (they came in already converted,
e.g. imported: we never saw them as leads).
With a channel: only customers with an identity on that channel. Conversion = leads whose first
purchase falls in the range / leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation, Customer, Identity, Purchase
from crm_core.reporting.metrics_stats import ratio

CONVERTED_STAGES = ("customer", "loyal", "churned")


@dataclass(frozen=True)
class Conversion:
    """Leads of the range and how many of them made a first purchase in it."""

    leads: int = 0
    conversions: int = 0

    @property
    def rate(self) -> float | None:
        return ratio(self.conversions, self.leads)


async def lead_conversion(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> Conversion:
    """Leads in [start, end) and their first purchases in it (see the module docstring)."""
    purchases = (
        select(Purchase.customer_id, func.min(Purchase.purchased_at).label("first_at"))
        .group_by(Purchase.customer_id)
        .subquery()
    )
    first_purchase = purchases.c.first_at
    talked = exists().where(
        Conversation.customer_id == Customer.id,
        Conversation.created_at >= start,
        Conversation.created_at < end,
    )
    converted = and_(first_purchase >= start, first_purchase < end)
    created = and_(Customer.created_at >= start, Customer.created_at < end)
    active = or_(created, talked, converted)
    came_converted = and_(Customer.lifecycle_stage.in_(CONVERTED_STAGES), first_purchase.is_(None))
    still_lead = or_(first_purchase.is_(None), first_purchase >= start)
    stmt = (
        select(func.count(), func.sum(case((converted, 1), else_=0)))
        .select_from(Customer)
        .outerjoin(purchases, purchases.c.customer_id == Customer.id)
        .where(Customer.created_at < end, active, still_lead, ~came_converted)
    )
    if channel is not None:
        stmt = stmt.where(
            exists().where(and_(Identity.customer_id == Customer.id, Identity.channel == channel))
        )
    leads, won = (await session.execute(stmt)).one()
    return Conversion(leads=int(leads or 0), conversions=int(won or 0))
