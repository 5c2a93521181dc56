"""What the automation says, in Vietnamese (the default) and English, with local times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.models import Appointment, Purchase, Service

LANGUAGES = ("vi", "en")
_WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_ZERO_DECIMAL = {"VND", "JPY", "KRW", "CLP", "ISK", "UGX"}  # amounts are in minor units

_REMINDER = {
    "vi": "Nhắc lịch hẹn: {service} lúc {when} tại {business}. "
    "Nếu cần đổi hoặc huỷ lịch, bạn cứ nhắn cho chúng tôi nhé.",
    "en": "Reminder: your {service} appointment is at {when} at {business}. "
    "Reply to this message if you need to reschedule or cancel.",
}
_CONFIRM = {
    "vi": "Lịch hẹn của bạn đã được xác nhận: {service} lúc {when} tại {business}. Hẹn gặp bạn!",
    "en": "Your appointment is confirmed: {service} on {when} at {business}. See you then!",
}
_CONFIRM_EMAIL = {
    "vi": "Xin chào {name},\n\nLịch hẹn của bạn đã được xác nhận:\n\n"
    "  Dịch vụ: {service}\n  Thời gian: {when} ({zone})\n  Mã lịch hẹn: {ref}\n\n"
    "Lời mời lịch (tệp .ics) được đính kèm để bạn thêm vào lịch của mình.\n"
    "Nếu cần đổi hoặc huỷ lịch, bạn chỉ cần trả lời email này.\n\n{business}",
    "en": "Hello {name},\n\nYour appointment is confirmed:\n\n"
    "  Service: {service}\n  Time: {when} ({zone})\n  Booking reference: {ref}\n\n"
    "The calendar invitation (.ics) is attached so you can add it to your calendar.\n"
    "To reschedule or cancel, just reply to this e-mail.\n\n{business}",
}
_RECEIPT = {
    "vi": "Xin chào {name},\n\nCảm ơn bạn đã mua hàng tại {business}. Hoá đơn của bạn:\n\n"
    "  {description}\n{items}  Tổng cộng: {total}\n  Ngày: {when}\n  Mã hoá đơn: {ref}\n\n"
    "Nếu có thắc mắc, bạn chỉ cần trả lời email này.\n\n{business}",
    "en": "Hello {name},\n\nThank you for your purchase at {business}. Your receipt:\n\n"
    "  {description}\n{items}  Total: {total}\n  Date: {when}\n  Receipt number: {ref}\n\n"
    "Questions? Just reply to this e-mail.\n\n{business}",
}
_SOMEONE = {"vi": "bạn", "en": "there"}


def local_time(at: datetime, language: str, timezone: str) -> str:
    """'09:30 thứ Sáu, 20/11/2026' or 'Friday 20 Nov 2026, 09:30' in the business's zone."""
    local = at.astimezone(ZoneInfo(timezone))
    if language == "en":
        return local.strftime("%A %d %b %Y, %H:%M")
    return f"{local:%H:%M} {_WEEKDAYS_VI[local.weekday()]}, {local:%d/%m/%Y}"


def money(amount: int, currency: str, language: str) -> str:
    """Minor units to text: 450000 VND → '450.000 VND' (vi) / '450,000 VND' (en)."""
    code = currency.upper()
    decimals = 0 if code in _ZERO_DECIMAL else 2
    text = f"{amount / 10**decimals:,.{decimals}f}"
    if language != "en":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return f"{text} {code}"


def service_name(service: Service, language: str) -> str:
    return service.name_en if language == "en" else service.name_vi


def _each(template: Mapping[str, str], **values: Any) -> dict[str, str]:
    """The template in every language; callables in `values` get the language."""
    return {
        lang: template[lang].format(
            **{k: (v(lang) if callable(v) else v) for k, v in values.items()}
        )
        for lang in LANGUAGES
    }


def reminder(
    appointment: Appointment, service: Service, *, business: str, tz: str
) -> dict[str, str]:
    return _each(
        _REMINDER,
        service=lambda lang: service_name(service, lang),
        when=lambda lang: local_time(appointment.starts_at, lang, tz),
        business=business,
    )


def confirmation(
    appointment: Appointment, service: Service, *, business: str, tz: str
) -> dict[str, str]:
    return _each(
        _CONFIRM,
        service=lambda lang: service_name(service, lang),
        when=lambda lang: local_time(appointment.starts_at, lang, tz),
        business=business,
    )


def confirmation_email(
    appointment: Appointment, service: Service, *, name: str | None, business: str, tz: str
) -> dict[str, str]:
    return _each(
        _CONFIRM_EMAIL,
        name=lambda lang: name or _SOMEONE[lang],
        service=lambda lang: service_name(service, lang),
        when=lambda lang: local_time(appointment.starts_at, lang, tz),
        zone=tz,
        ref=appointment.id,
        business=business,
    )


def receipt(purchase: Purchase, *, name: str | None, business: str, tz: str) -> dict[str, str]:
    def items(lang: str) -> str:
        lines = []
        for item in purchase.items or []:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            line = f"    - {item.get('quantity', 1)} × {item['name']}"
            if isinstance(item.get("amount"), int):
                line += f": {money(item['amount'], purchase.currency, lang)}"
            lines.append(line + "\n")
        return "".join(lines)

    return _each(
        _RECEIPT,
        name=lambda lang: name or _SOMEONE[lang],
        business=business,
        description=purchase.description,
        items=items,
        total=lambda lang: money(purchase.amount, purchase.currency, lang),
        when=lambda lang: local_time(purchase.purchased_at, lang, tz),
        ref=purchase.external_id or purchase.id,
    )
