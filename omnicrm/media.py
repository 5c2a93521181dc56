"""Which hosts each channel's media may come from, built from settings, and the fetch itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.media import FetchedMedia, MediaFetcher, MediaRefused, MediaSource, host_of
from omnicrm.settings import Settings


@dataclass(frozen=True)
class ChannelMedia:
    source: MediaSource
    resolves_ref: bool  # the ref is a handle to resolve through the adapter (Telegram file_id)


def media_sources(settings: Settings) -> dict[str, ChannelMedia]:
    """Provider media hosts; a configured API base (a proxy, a local fake) is trusted as is."""
    telegram_base = host_of(settings.telegram_api_base)
    twilio_base = host_of(settings.twilio_api_base)
    zalo_base = host_of(settings.zalo_api_base)
    sid, token = settings.twilio_account_sid, settings.secret("twilio_auth_token")
    return {
        "telegram": ChannelMedia(
            MediaSource(
                hosts=("api.telegram.org", telegram_base),
                trusted_local=frozenset({telegram_base}) - {"api.telegram.org"},
            ),
            resolves_ref=True,
        ),
        "sms": ChannelMedia(
            MediaSource(
                # MediaUrl is on api.twilio.com and redirects to Twilio's CDN.
                hosts=("api.twilio.com", ".twiliocdn.com", ".twilio.com", twilio_base),
                auth=(sid, token) if sid and token else None,
                auth_hosts=("api.twilio.com", twilio_base),
                trusted_local=frozenset({twilio_base}) - {"api.twilio.com"},
            ),
            resolves_ref=False,
        ),
        "zalo": ChannelMedia(
            MediaSource(
                # Zalo serves user uploads from its CDNs (zdn.vn, zadn.vn) and zalo.me hosts.
                hosts=(".zdn.vn", ".zadn.vn", ".zalo.me", ".zaloapp.com", zalo_base),
                trusted_local=frozenset({zalo_base}) - {"openapi.zalo.me"},
            ),
            resolves_ref=False,
        ),
    }


async def fetch_attachment(
    *,
    fetcher: MediaFetcher,
    sources: dict[str, ChannelMedia],
    adapter: Any,
    channel: str,
    attachment: dict[str, Any],
) -> FetchedMedia:
    """Fetch one stored attachment from its channel; MediaRefused says why not."""
    media = sources.get(channel)
    ref = str(attachment.get("ref", ""))
    if media is None or adapter is None or attachment.get("kind") == "location":
        raise MediaRefused(f"{channel} attachments are kept as metadata only", status=404)
    url = await adapter.media_url(ref) if media.resolves_ref else ref
    return await fetcher.fetch(url, media.source)
