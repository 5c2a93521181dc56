"""The console in Vietnamese and English: a catalogue of phrases and the reader's language.

Phrases live in `translations/*.yml` (one file per page or feature, so pages own their
words): `key: {en: "...", vi: "..."}`. Templates call `t("key", name=...)`; a key missing
from the catalogue shows itself, and a test keeps every key used in a template translated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

import yaml
from fastapi import Request

LANGUAGES = ("vi", "en")
LANG_COOKIE = "omnicrm_lang"
CATALOGUE_DIR = Path(__file__).parent / "translations"

Translate = Callable[..., str]


@cache
def catalogue() -> Mapping[str, Mapping[str, str]]:
    """Every phrase by key and language, read once from the translation files."""
    phrases: dict[str, dict[str, str]] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.yml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in loaded.items():
            if key in phrases:
                raise ValueError(f"{path.name}: phrase {key!r} is defined twice")
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise ValueError(f"{path.name}: phrase {key!r} needs exactly 'vi' and 'en'")
            phrases[key] = {lang: str(text) for lang, text in texts.items()}
    return phrases


def translator(lang: str) -> Translate:
    """`t(key, **values)` in `lang`; English when the language is unknown."""
    language = lang if lang in LANGUAGES else "en"
    phrases = catalogue()

    def t(key: str, **values: object) -> str:
        entry = phrases.get(key)
        if entry is None:
            return key
        text = entry[language]
        return text.format(**values) if values else text

    return t


def choose_language(request: Request, default: str) -> str:
    """The reader's language: the cookie set by the switcher, then the browser's
    Accept-Language, then OMNICRM_DEFAULT_LANGUAGE."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "vi"
