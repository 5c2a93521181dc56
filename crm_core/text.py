"""Text folding the domain needs on its own (crm_core imports no other package)."""

from __future__ import annotations

import unicodedata


def strip_marks(text: str) -> str:
    """Drop Vietnamese tone and vowel marks (đ → d), keeping case: "Đặt lịch" → "Dat lich"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def fold(text: str) -> str:
    """Lower-case, without marks, spaces collapsed: "Khám  Da" → "kham da"."""
    plain = strip_marks(text.lower())
    return " ".join(plain.replace("_", " ").replace("-", " ").split())
