"""What the templates know about the customer: call name, honorific, last purchase, next visit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.bot import call_name
from conversations.flows.timefmt import price_text, when_text
from crm_core.booking.appointments import upcoming
from crm_core.models import Customer, Purchase, Service

# Vietnamese addresses people by age and gender; without knowing either, "bạn" is safe.
_HONORIFICS = {"anh": "anh", "chi": "chị", "chị": "chị"}
_BY_GENDER = {"male": "anh", "m": "anh", "nam": "anh", "female": "chị", "f": "chị", "nữ": "chị"}


def honorific(customer: Customer, language: str) -> str:
    """ "anh"/"chị" when the profile says so, else "bạn"; in English the name or "you"."""
    if language == "en":
        return call_name(customer.name) or "you"
    attrs = customer.attributes or {}
    said = str(attrs.get("honorific") or "").strip().lower()
    if said in _HONORIFICS:
        return _HONORIFICS[said]
    return _BY_GENDER.get(str(attrs.get("gender") or "").strip().lower(), "bạn")


async def profile(
    session: AsyncSession,
    customer: Customer,
    *,
    language: str,
    now: datetime,
    zone: ZoneInfo,
    business: str,
) -> dict[str, Any]:
    """Template variables about this customer (see templates.yml)."""
    hon = honorific(customer, language)
    # English addresses the customer as "you" inside a sentence.
    hon_lower = "you" if language == "en" else hon
    return {
        "name": call_name(customer.name) or "",
        "hon": hon_lower,
        "Hon": hon_lower[:1].upper() + hon_lower[1:],
        "business": business,
        "last_purchase": await last_purchase_text(session, customer.id, language, zone),
        "upcoming": await upcoming_text(session, customer.id, language, now, zone),
    }


async def last_purchase_text(
    session: AsyncSession, customer_id: str, language: str, zone: ZoneInfo
) -> str:
    stmt = (
        select(Purchase)
        .where(Purchase.customer_id == customer_id)
        .order_by(Purchase.purchased_at.desc())
        .limit(1)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        return ""
    day = found.purchased_at.astimezone(zone).strftime("%d/%m/%Y")
    label = f"{found.external_id} — " if found.external_id else ""
    return (
        f"{label}{found.description}, {price_text(found.amount, found.currency, language)}, {day}"
    )


async def upcoming_text(
    session: AsyncSession, customer_id: str, language: str, now: datetime, zone: ZoneInfo
) -> str:
    found = await upcoming(session, customer_id, now=now)
    if not found:
        return ""
    return await appointment_text(session, found[0], language, zone)


async def appointment_text(
    session: AsyncSession, appointment: Any, language: str, zone: ZoneInfo
) -> str:
    """ "Tư vấn da liễu lúc 09:00 thứ Bảy 21/11"."""
    service = await session.get(Service, appointment.service_id)
    name = (service.name_en if language == "en" else service.name_vi) if service else "?"
    at = "at" if language == "en" else "lúc"
    return f"{name} {at} {when_text(appointment.starts_at, zone, language)}"
