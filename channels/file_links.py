"""Signed, expiring download links for stored files: `{PUBLIC_URL}/files/{id}?expires=&signature=`.

Twilio fetches MMS media by URL, and channels that cannot carry a file get the link in the text,
so the link itself is the credential: HMAC-SHA256 over the file id and the expiry, with a key
derived from OMNICRM_SECRET_KEY (the console cookies' key material, under its own label so one
signature can never stand in for the other).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from urllib.parse import quote, urlencode

from channels.base import DeliveryError, OutboundFile

DEFAULT_TTL = timedelta(days=7)
_LABEL = b"omnicrm/file-links/v1"


class LinkCheck(Enum):
    """What a presented link is worth: the route maps these to 200, 403 and 410."""

    VALID = "valid"
    BAD = "bad"
    EXPIRED = "expired"


@cache
def _process_key() -> bytes:
    """Without SECRET_KEY: one random key per process, shared by the dispatcher and the route
    inside it; links made by another process (or before a restart) then fail with 403."""
    return secrets.token_bytes(32)


def signing_key(secret_key: str | None) -> bytes:
    """The links' own key, derived from SECRET_KEY (or the per-process random key)."""
    material = secret_key.encode() if secret_key else _process_key()
    return hmac.new(material, _LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class FileLinks:
    """Makes and checks the links; built by the composition root from settings."""

    key: bytes = field(repr=False)
    public_url: str
    ttl: timedelta = DEFAULT_TTL

    @classmethod
    def for_deployment(
        cls, *, secret_key: str | None, public_url: str, ttl: timedelta = DEFAULT_TTL
    ) -> FileLinks:
        return cls(signing_key(secret_key), public_url.rstrip("/"), ttl)

    def url(self, file_id: str, *, now: datetime) -> str:
        """A link valid for `ttl` from `now` (rounded up to the next whole second)."""
        expires = int((now + self.ttl).timestamp()) + 1
        query = urlencode({"expires": expires, "signature": self._sign(file_id, expires)})
        return f"{self.public_url}/files/{quote(file_id, safe='')}?{query}"

    def check(self, file_id: str, *, expires: str, signature: str, now: datetime) -> LinkCheck:
        """Signature first (constant time), then expiry: an expired forgery is still BAD."""
        if not expires.isdigit() or len(expires) > 12:
            return LinkCheck.BAD
        expected = self._sign(file_id, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            return LinkCheck.BAD
        if int(expires) <= now.timestamp():
            return LinkCheck.EXPIRED
        return LinkCheck.VALID

    def _sign(self, file_id: str, expires: int) -> str:
        message = f"{file_id}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def text_with_links(text: str, files: Sequence[OutboundFile], *, channel: str) -> str:
    """The text followed by one `name: link` line per file, for channels that cannot carry
    these files; without links (none configured) the message cannot be sent as asked."""
    if not files:
        return text
    missing = [file.name for file in files if file.url is None]
    if missing:
        raise DeliveryError(
            f"cannot send {', '.join(map(repr, missing))} on {channel}: file links are off",
            retryable=False,
            code="file_links_off",
        )
    lines = "\n".join(f"{file.name}: {file.url}" for file in files)
    return "\n\n".join(part for part in (text.strip(), lines) if part)
