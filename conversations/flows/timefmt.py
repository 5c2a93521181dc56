"""Times, days and prices the way a customer reads them, in the business's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_VI_DAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_text(day: date, language: str) -> str:
    """ "thứ Bảy 21/11" / "Saturday 21 Nov"."""
    if language == "en":
        return f"{_EN_DAYS[day.weekday()]} {day.day} {_EN_MONTHS[day.month - 1]}"
    return f"{_VI_DAYS[day.weekday()]} {day.day:02d}/{day.month:02d}"


def when_text(at: datetime, zone: ZoneInfo, language: str) -> str:
    """ "09:00 thứ Bảy 21/11" / "09:00, Saturday 21 Nov" (local time)."""
    local = at.astimezone(zone)
    clock = local.strftime("%H:%M")
    if language == "en":
        return f"{clock}, {day_text(local.date(), language)}"
    return f"{clock} {day_text(local.date(), language)}"


def slots_text(starts: list[datetime], zone: ZoneInfo, language: str) -> str:
    """Several offered times: just the clock when they share a day (the day is said already)."""
    local = [s.astimezone(zone) for s in starts]
    if len({s.date() for s in local}) == 1:
        return ", ".join(s.strftime("%H:%M") for s in local)
    joiner = "; " if language == "en" else ", "
    return joiner.join(when_text(s, zone, language) for s in local)


def price_text(amount: int, currency: str, language: str) -> str:
    """ "300.000đ" / "300,000 VND"."""
    grouped = f"{amount:,}"
    if language == "en":
        return f"{grouped} {currency}"
    grouped = grouped.replace(",", ".")
    return f"{grouped}đ" if currency == "VND" else f"{grouped} {currency}"
