"""Normalising contact details: phones to E.164 (Vietnam by default), e-mails lower-cased."""

from __future__ import annotations

import re

import phonenumbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(raw: str, *, region: str = "VN") -> str | None:
    """E.164 for a valid number, else None ("0912 345 678" → "+84912345678")."""
    candidate = raw.strip()
    if not candidate:
        return None
    digits = re.sub(r"\D", "", candidate)
    if region == "VN" and candidate.startswith("84") and len(digits) > 10:
        # Telegram shares numbers without "+": "84912345678" is already international.
        candidate = "+" + candidate
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """Lower-cased address (plus addressing kept), or None when it is not an address."""
    candidate = raw.strip().lower()
    return candidate if _EMAIL.match(candidate) and len(candidate) <= 320 else None
