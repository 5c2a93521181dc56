"""E-mail addresses: lower-cased, plus addressing kept, surrounding punctuation left out."""

from __future__ import annotations

import re

from nlu.entities.spans import Span

PRIORITY = 0
# Local part: no leading, trailing or doubled dot. Domain: labels, then a letters-only TLD, so
# the sentence's full stop after "lan@example.com." is never part of the address.
_EMAIL = re.compile(
    r"(?<![\w.+%-])"
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w@-]|\.[A-Za-z0-9])"
)


def find(text: str) -> list[Span]:
    return [
        Span("email", match.group(0).lower(), match.start(), match.end(), PRIORITY)
        for match in _EMAIL.finditer(text)
    ]
