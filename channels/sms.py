"""SMS via Twilio: signed form webhooks → events and statuses; replies via the Messages API."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from channels.base import (
    Attachment,
    DeliveryError,
    DeliveryReceipt,
    DeliveryStatus,
    InboundEvent,
    OutboundMessage,
    ParsedWebhook,
    SharedContact,
    StatusUpdate,
    WebhookAck,
    WebhookRejected,
)
from channels.sms_media import sms_content
from channels.sms_segments import MAX_BODY_CHARS, count_segments, split_body
from channels.twilio_http import TwilioMessages, signature_matches
from crm_core.contacts import normalize_phone
from crm_core.types import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-twilio-signature"
E164 = re.compile(r"\+[1-9]\d{6,14}")
# Twilio form fields are plain identifiers (MessageSid, MediaUrl0…); anything else is not a form.
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

Keyword = Literal["stop", "start", "help"]
# Twilio's default keywords on long codes (research §3.5, Advanced Opt-Out tutorial).
KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"), "stop"
    ),
    **dict.fromkeys(("start", "yes", "unstop"), "start"),
    **dict.fromkeys(("help", "info"), "help"),
}
# Advanced Opt-Out (localised keywords) says which kind it matched in OptOutType (§3.5).
_OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "stop", "START": "start", "HELP": "help"}
_KIND: dict[Keyword, Literal["message", "opt_out", "opt_in"]] = {
    "stop": "opt_out",
    "start": "opt_in",
    "help": "message",
}
# Words that, inside a longer text, may be a free-text revocation a human should look at
# (FCC 24-24, reliability.md #27); they never opt out on their own.
_REVOCATION_HINTS = re.compile(r"\b(stop|unsubscribe|opt[\s-]?out|revoke)\b", re.IGNORECASE)

# https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks:
# we already count a message "sent" once Twilio accepts it, so queued/accepted/sending add nothing.
STATUS_MAP: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",  # a scheduled message that will never go out
}
# The delivery errors agents meet most (https://www.twilio.com/docs/api/errors/300xx).
ERROR_TEXT = {
    "30003": "unreachable handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
    "30008": "unknown error",
}


class SmsAdapter:
    """Twilio SMS/MMS: holds a TwilioMessages gateway; parse is pure and table-tested."""

    name = "sms"
    # Twilio reads TwiML from the webhook answer; an empty <Response> means "no reply here".
    ack = WebhookAck(b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml")

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str,
        status_callback_url: str,
        region: str = "VN",
        max_sends_per_second: float = 1.0,
    ) -> None:
        self.max_sends_per_second = max_sends_per_second
        self.region = region
        self._auth_token = auth_token
        self._from = from_number
        self._status_callback = status_callback_url
        self._api = TwilioMessages(
            account_sid=account_sid, auth_token=auth_token, api_base=api_base
        )
        if not status_callback_url.startswith("https://"):
            log.warning("sms: PUBLIC_URL is not https; Twilio status callbacks may not arrive")

    def verify(self, *, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """X-Twilio-Signature over the public URL + sorted form params (research §3.2)."""
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(401, "missing_signature", "X-Twilio-Signature is missing")
        # Lenient decoding here: garbage must fail the signature, not crash; parse judges form.
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if not signature_matches(
            auth_token=self._auth_token, url=url, pairs=pairs, signature=signature
        ):
            raise WebhookRejected(403, "bad_signature", "X-Twilio-Signature does not match")

    def parse(self, body: bytes) -> ParsedWebhook:
        return parse_form(body, region=self.region, received_at=utcnow())

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send text in ≤1600-character Bodies (Twilio concatenates segments itself); files
        ride along as MMS media on US/CA numbers, as signed links in the text elsewhere."""
        to = message.external_user_id
        if not E164.fullmatch(to):
            raise DeliveryError(
                "recipient is not an E.164 phone number", retryable=False, code="invalid_recipient"
            )
        content = sms_content(message.text, message.files, to=to)
        parts = [part for part in split_body(content.text, MAX_BODY_CHARS) if part.strip()]
        calls = _calls(parts, content.media_batches)
        if not calls:
            raise DeliveryError("empty message", retryable=False, code="empty")
        sids: list[str] = []
        for body, media in calls:
            try:
                sent = await self._api.create(
                    to=to,
                    sender=self._from,
                    body=body,
                    media_urls=media,
                    status_callback=self._status_callback,
                )
            except DeliveryError as exc:
                raise _partial(exc, done=len(sids), total=len(calls)) from exc
            sids.append(sent.sid)
        meta = _segment_meta(parts, sids)
        if content.media_batches:
            meta["media"] = sum(len(batch) for batch in content.media_batches)
        log.info(
            "sms %s accepted as %s (%s segments)", message.message_id, sids[0], meta["segments"]
        )
        # The first part's SID is the one status callbacks are matched on.
        return DeliveryReceipt(external_id=sids[0], status="sent", meta=meta)

    async def close(self) -> None:
        await self._api.close()


def _calls(
    parts: Sequence[str], batches: Sequence[tuple[str, ...]]
) -> list[tuple[str, tuple[str, ...]]]:
    """One Messages create per text part; the first media batch rides on the first part."""
    count = max(len(parts), len(batches))
    return [
        (parts[i] if i < len(parts) else "", batches[i] if i < len(batches) else ())
        for i in range(count)
    ]


def _partial(exc: DeliveryError, *, done: int, total: int) -> DeliveryError:
    """After some parts went out a retry would repeat them: report, never resend."""
    if not done:
        return exc
    return DeliveryError(
        f"partially sent ({done} of {total} parts): {exc.reason}",
        retryable=False,
        code=exc.code,
        opted_out=exc.opted_out,
    )


def _segment_meta(parts: Sequence[str], sids: Sequence[str]) -> dict[str, Any]:
    counts = [count_segments(part) for part in parts]
    encoding = "UCS-2" if any(c.encoding == "UCS-2" for c in counts) else "GSM-7"
    meta: dict[str, Any] = {"segments": sum(c.segments for c in counts), "encoding": encoding}
    if len(sids) > 1:
        meta["parts"] = list(sids)
    return meta


def sms_keyword(text: str, *, opt_out_type: str | None = None) -> Keyword | None:
    """Twilio's keyword for a message: only the whole message counts ("stop" yes, "stop it" no)."""
    if opt_out_type and opt_out_type.upper() in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt_out_type.upper()]
    # Case, surrounding spaces and stray punctuation ignored; "opt out"/"opt-out" = OPTOUT.
    squeezed = re.sub(r"[\s\-_.!]+", "", text.casefold())
    return KEYWORDS.get(squeezed)


class TwilioForm(BaseModel):
    """The fields we use from Twilio's webhook forms (Twilio adds fields without notice)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_sid: str | None = Field(default=None, alias="MessageSid")
    sms_message_sid: str | None = Field(default=None, alias="SmsMessageSid")
    sender: str | None = Field(default=None, alias="From")
    to: str | None = Field(default=None, alias="To")
    body: str | None = Field(default=None, alias="Body")
    num_media: int = Field(default=0, alias="NumMedia", ge=0, le=10)  # MMS carries ≤ 10
    num_segments: int | None = Field(default=None, alias="NumSegments", ge=0)
    message_status: str | None = Field(default=None, alias="MessageStatus")
    error_code: str | None = Field(default=None, alias="ErrorCode")
    opt_out_type: str | None = Field(default=None, alias="OptOutType")

    @field_validator("num_media", "num_segments", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        if value != "":
            return value
        return 0 if info.field_name == "num_media" else None

    @property
    def sid(self) -> str | None:
        """MessageSid, or the legacy SmsMessageSid older integrations still send."""
        return self.message_sid or self.sms_message_sid


def parse_form(body: bytes, *, region: str, received_at: datetime) -> ParsedWebhook:
    """Pure: a Twilio form in, an inbound event or a status update (or a reason) out."""
    pairs = _form_pairs(body)
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)  # a repeated key: the first value speaks for the field
    try:
        form = TwilioForm.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebhookRejected(400, "invalid_payload", f"{where}: {first['msg']}") from exc
    if form.message_status is not None and form.body is None:
        return _status(form)
    if form.sid and form.sender and (form.body is not None or form.num_media):
        return ParsedWebhook(events=[_inbound(form, fields, region, received_at)])
    return ParsedWebhook(ignored="form is neither an inbound message nor a status callback")


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, "malformed_form", "body is not a url-encoded form") from exc
    if not pairs or not all(_FIELD_NAME.fullmatch(key) for key, _ in pairs):
        raise WebhookRejected(400, "malformed_form", "body is not a Twilio form")
    return pairs


def _status(form: TwilioForm) -> ParsedWebhook:
    raw_status = (form.message_status or "").lower()
    status = STATUS_MAP.get(raw_status)
    if form.sid is None or status is None:
        return ParsedWebhook(ignored=f"status {raw_status or 'unknown'} changes nothing")
    error = None
    if status == "failed":
        detail = ERROR_TEXT.get(form.error_code or "", "see the Twilio error code")
        error = f"{raw_status}: {detail}" + (
            f" (Twilio {form.error_code})" if form.error_code else ""
        )
    update = StatusUpdate(
        channel="sms",
        external_message_id=form.sid,
        status=status,
        error=error,
        error_code=form.error_code or None,
    )
    return ParsedWebhook(statuses=[update])


def _inbound(
    form: TwilioForm, fields: Mapping[str, str], region: str, received_at: datetime
) -> InboundEvent:
    assert form.sid is not None and form.sender is not None  # checked by the caller
    phone = normalize_phone(form.sender, region=region)
    text = form.body or ""
    meta: dict[str, Any] = {"to": form.to, "num_segments": form.num_segments}
    keyword = sms_keyword(text, opt_out_type=form.opt_out_type)
    if keyword is not None:
        meta["twilio_keyword"] = keyword  # Twilio answers these itself: no reply from us
    elif _REVOCATION_HINTS.search(text):
        meta["possible_opt_out"] = True  # free text: for a human to review, not automatic
    return InboundEvent(
        kind=_KIND[keyword] if keyword else "message",
        channel="sms",
        # Short codes and alphanumeric senders are no phone number: keep them as sent.
        external_user_id=phone or form.sender.strip(),
        external_event_id=form.sid,
        external_message_id=form.sid,
        text=text,
        attachments=_media(form.num_media, fields),
        # The carrier vouches for the sender's number, so a known verified phone joins them.
        contact=SharedContact(phone=phone, verified=True) if phone else None,
        occurred_at=received_at,
        meta=meta,
        raw=dict(fields),
    )


def _media(count: int, fields: Mapping[str, str]) -> list[Attachment]:
    """MMS media as references only: fetching Twilio media URLs is someone else's job."""
    found: list[Attachment] = []
    for index in range(count):
        url = fields.get(f"MediaUrl{index}")
        if not url:
            continue
        mime = fields.get(f"MediaContentType{index}") or None
        found.append(Attachment(kind=_media_kind(mime), ref=url, mime_type=mime))
    return found


def _media_kind(mime: str | None) -> str:
    major = (mime or "").split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "document"
