"""Header reading that never raises: decoded values, message ids and the sender's address."""

from __future__ import annotations

import re
import unicodedata
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses

_MSG_ID = re.compile(r"<([^<>]+)>")
_FOLDING = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese from some clients (macOS) arrives decomposed (research §5.3)."""
    return unicodedata.normalize("NFC", text)


def header_text(msg: EmailMessage, name: str) -> str:
    """The decoded (RFC 2047), unfolded value of a header, or '' when it is absent."""
    try:
        value = msg.get(name)
    except Exception:  # email's header parser can raise on hostile input; fall back to raw
        value = _raw_header(msg, name)
    if value is None:
        return ""
    return nfc(_FOLDING.sub(" ", str(value)).strip())


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    for key, raw in msg.raw_items():
        if key.lower() == name.lower():
            try:
                return str(make_header(decode_header(str(raw))))
            except Exception:
                return str(raw)
    return None


def message_ids(value: str) -> list[str]:
    """The ids in a Message-ID/In-Reply-To/References value, without angle brackets, in order."""
    found = [_FOLDING.sub("", match) for match in _MSG_ID.findall(value)]
    if not found:  # some clients omit the brackets (RFC 5322 §3.6.4 requires them)
        found = [token.strip(",;") for token in value.split() if "@" in token]
    return [token for token in found if token]


def sender(msg: EmailMessage) -> tuple[str, str | None] | None:
    """The first From address, lower-cased, and its display name; None when there is none."""
    pairs: list[tuple[str, str | None]] = []
    try:
        header = msg.get("From")
        addresses = getattr(header, "addresses", ())
        pairs = [(a.addr_spec, a.display_name or None) for a in addresses]
    except Exception:
        pairs = []
    if not pairs:
        raw = _raw_header(msg, "From") or ""
        pairs = [(addr, name or None) for name, addr in getaddresses([raw])]
    for address, name in pairs:
        address = address.strip().strip("<>").lower()
        local, _, domain = address.partition("@")
        if local and domain and " " not in address:
            return address, nfc(name.strip()) if name and name.strip() else None
    return None
