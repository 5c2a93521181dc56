"""E-mail adapter: HMAC-signed raw mail in, replies out through SMTP with aiosmtplib."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from email.headerregistry import Address
from email.utils import parseaddr

import aiosmtplib

from channels.base import (
    DeliveryError,
    DeliveryReceipt,
    OutboundMessage,
    ParsedWebhook,
    WebhookRejected,
)
from channels.email_compose import compose
from channels.email_parse import parse_email

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-omnicrm-signature"
SIGNATURE_PREFIX = "sha256="
SMTP_TIMEOUT_S = 30.0
SMTPS_PORT = 465  # RFC 8314: implicit TLS ("submissions"); other ports upgrade with STARTTLS


class EmailAdapter:
    """Holds SMTP settings (a connection per send, aiosmtplib.send); parsing is pure."""

    name = "email"

    def __init__(
        self,
        *,
        webhook_secret: str | None,
        smtp_host: str,
        smtp_port: int,
        smtp_username: str | None,
        smtp_password: str | None,
        smtp_starttls: bool,
        email_from: str,
        max_sends_per_second: float = 5.0,
        business_name: str | None = None,
    ) -> None:
        self.max_sends_per_second = max_sends_per_second
        self._secret = webhook_secret.encode() if webhook_secret else None
        self._smtp_host = smtp_host
        self._smtp_port = smtp_port
        self._smtp_username = smtp_username
        self._smtp_password = smtp_password
        self._smtp_starttls = smtp_starttls
        self.sender = _sender(email_from, business_name)
        self._default_subject = business_name or self.sender.display_name or "Your message"

    @property
    def address(self) -> str:
        """Our own address, lower-cased: mail from it is never a customer's."""
        return self.sender.addr_spec.lower()

    def verify(self, *, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """X-Omnicrm-Signature: sha256=<hex HMAC-SHA256 of the raw body>, constant-time."""
        if self._secret is None:
            raise WebhookRejected(
                403,
                "webhook_disabled",
                "set OMNICRM_EMAIL_WEBHOOK_SECRET to accept mail by webhook",
            )
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            raise WebhookRejected(401, "missing_signature", "X-Omnicrm-Signature is missing")
        expected = SIGNATURE_PREFIX + hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise WebhookRejected(403, "bad_signature", "X-Omnicrm-Signature does not match")

    def parse(self, body: bytes) -> ParsedWebhook:
        return parse_email(body, own_address=self.address)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """One SMTP transaction per reply; SMTP errors become DeliveryError (5xx permanent)."""
        if "@" not in message.external_user_id:
            raise DeliveryError("recipient is not an e-mail address", retryable=False)
        try:
            mail, own_id = compose(
                message, sender=self.sender, default_subject=self._default_subject
            )
        except (ValueError, TypeError) as exc:  # e.g. a line break in a header value
            raise DeliveryError(f"cannot build the mail: {exc}"[:200], retryable=False) from exc
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender.addr_spec,
                recipients=[message.external_user_id],
                hostname=self._smtp_host,
                port=self._smtp_port,
                username=self._smtp_username,
                password=self._smtp_password,
                use_tls=self._smtp_port == SMTPS_PORT,
                start_tls=self._smtp_starttls and self._smtp_port != SMTPS_PORT,
                timeout=SMTP_TIMEOUT_S,
            )
        except aiosmtplib.SMTPException as exc:
            raise _delivery_error(exc) from exc
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(f"smtp unavailable: {type(exc).__name__}", retryable=True) from exc
        log.info("sent e-mail for message %s", message.message_id)
        return DeliveryReceipt(
            external_id=own_id, status="sent", meta={"message_id": f"<{own_id}>"}
        )

    async def close(self) -> None:
        """Nothing to release: every send opens and closes its own SMTP connection."""


def _sender(email_from: str, business_name: str | None) -> Address:
    """EMAIL_FROM may be 'Name <addr>' or a bare address; the business name fills a bare one."""
    name, address = parseaddr(email_from)
    if "@" not in address:
        raise ValueError("OMNICRM_EMAIL_FROM must be an e-mail address")
    return Address(display_name=name or business_name or "", addr_spec=address)


def _delivery_error(exc: aiosmtplib.SMTPException) -> DeliveryError:
    """RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz transient; no code means transport."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        permanent = any(500 <= code < 600 for code in codes)
        return DeliveryError(
            f"smtp recipient refused: {', '.join(map(str, codes))}", retryable=not permanent
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # Wrong credentials are the operator's to fix; keep the message for after the fix.
        return DeliveryError(f"smtp authentication failed: {exc.code}", retryable=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = 500 <= exc.code < 600
        return DeliveryError(f"smtp {exc.code}: {exc.message[:200]}", retryable=not permanent)
    return DeliveryError(f"smtp error: {type(exc).__name__}", retryable=True)
