"""Files on SMS: MMS media URLs where Twilio carries MMS, the signed link in the text elsewhere.

Twilio fetches each `MediaUrl` itself, so PUBLIC_URL must be reachable from the internet.
Twilio MMS reaches US and Canadian numbers only; elsewhere (a +84 number) a message with
media is not delivered as MMS, so those customers get the links in the text instead.
⚠ Coverage and limits from Twilio's MMS docs as remembered (not in research/channels.md §3):
at most 10 media per message, 5 MB in total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from channels.base import OutboundFile
from channels.file_links import text_with_links

MMS_COUNTRY_PREFIXES = ("+1",)  # NANP: the United States and Canada
MAX_MEDIA = 10
MAX_MMS_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SmsContent:
    """The text to send (with any links appended) and the media URLs in per-message batches."""

    text: str
    media_batches: tuple[tuple[str, ...], ...] = ()


def sms_content(text: str, files: Sequence[OutboundFile], *, to: str) -> SmsContent:
    """Decide per file: MMS media (US/CA, within the size limit) or a link in the text."""
    mms = to.startswith(MMS_COUNTRY_PREFIXES)
    media = [f for f in files if mms and f.url and f.size <= MAX_MMS_BYTES]
    linked = [f for f in files if not (mms and f.url and f.size <= MAX_MMS_BYTES)]
    full = text_with_links(text, linked, channel="sms")
    return SmsContent(full, _batches(media))


def _batches(media: Sequence[OutboundFile]) -> tuple[tuple[str, ...], ...]:
    """Greedy: ≤ 10 media and ≤ 5 MB per message, in the agent's order."""
    batches: list[list[OutboundFile]] = []
    for file in media:
        current = batches[-1] if batches else None
        if (
            current is None
            or len(current) >= MAX_MEDIA
            or sum(f.size for f in current) + file.size > MAX_MMS_BYTES
        ):
            batches.append([file])
        else:
            current.append(file)
    return tuple(tuple(str(f.url) for f in batch) for batch in batches)
