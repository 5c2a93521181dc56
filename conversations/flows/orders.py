"""Order-status questions answered from the customer's own purchases (one turn, no state)."""

from __future__ import annotations

from sqlalchemy import func, select

from conversations.flows.base import FlowContext, Step
from conversations.flows.timefmt import price_text
from crm_core.models import Purchase


async def answer(ctx: FlowContext) -> Step:
    """The order named in the message, else the latest purchase, else ask for the number.

    Only the customer's own purchases are searched: an order number is not a password, and
    someone else's order is "not found" rather than read out.
    """
    order_id = ctx.entity("order_id")
    if order_id:
        stmt = select(Purchase).where(
            Purchase.customer_id == ctx.customer.id,
            func.upper(Purchase.external_id) == str(order_id).upper(),
        )
        found = (await ctx.session.execute(stmt)).scalars().first()
        if found is None:
            return Step([ctx.say("order_not_found", order=order_id)], None, offer_human=True)
        items = ", ".join(_item(i) for i in found.items or [] if _item(i))
        text = ctx.say(
            "order_found",
            order=found.external_id,
            description=found.description,
            items=items,
            amount=price_text(found.amount, found.currency, ctx.language),
            date=found.purchased_at.astimezone(ctx.rules.zone).strftime("%d/%m/%Y"),
        )
        return Step([text], None, offer_human=True)
    if ctx.persona.get("last_purchase"):
        return Step([ctx.say("order_last")], None, offer_human=True)
    return Step([ctx.say("order_ask_id")], None, offer_human=True)


def _item(item: object) -> str:
    if isinstance(item, dict):
        name = item.get("name") or item.get("description") or item.get("sku") or ""
        qty = item.get("quantity") or item.get("qty")
        return f"{name} x{qty}" if name and qty else str(name)
    return str(item)
