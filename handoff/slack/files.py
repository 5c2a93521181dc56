"""Files an agent attaches to a thread reply, fetched from Slack and stored for the customer.

Slack file URLs need the bot token, so they are fetched only from Slack's file host (or the
configured API base, a proxy or a local fake) through the SSRF-safe `MediaFetcher`; the token
never travels to any other host, not even on a redirect.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, cast

import httpx

from channels.media import MediaFetcher, MediaRefused, MediaSource, host_of
from crm_core import files as stored_files
from crm_core.db import Database

log = logging.getLogger(__name__)
SLACK_FILE_HOSTS = ("files.slack.com",)


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <bot token>` (Slack files do not take basic auth)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def slack_media_source(*, token: str, api_base: str) -> MediaSource:
    """Slack's file host plus the configured API base (trusted as local only when not Slack's)."""
    base = host_of(api_base)
    hosts = (*SLACK_FILE_HOSTS, base) if base else SLACK_FILE_HOSTS
    trusted = frozenset({base}) - {"slack.com", *SLACK_FILE_HOSTS} if base else frozenset()
    # MediaSource types `auth` as a basic-auth pair; httpx takes any Auth where it is used.
    return MediaSource(
        hosts=hosts,
        auth=cast(Any, BearerAuth(token)),
        auth_hosts=hosts,
        trusted_local=trusted,
    )


@dataclass(frozen=True)
class Relayed:
    """The attachments ready for `service.reply`, and what could not be taken, said plainly."""

    attachments: list[dict[str, Any]]
    refused: list[str]


async def fetch_files(
    db: Database,
    fetcher: MediaFetcher,
    source: MediaSource,
    files: list[dict[str, Any]],
    *,
    max_bytes: int,
) -> Relayed:
    """Download each file and store it in one transaction per file; refusals are collected."""
    attachments: list[dict[str, Any]] = []
    refused: list[str] = []
    for entry in files:
        name = str(entry.get("name") or entry.get("title") or "file")
        url = entry.get("url_private_download") or entry.get("url_private")
        declared = entry.get("size")
        if not url:
            refused.append(f"{name}: Slack gave no download link")
            continue
        if isinstance(declared, int) and declared > max_bytes:
            refused.append(f"{name}: {declared} bytes is above the {max_bytes}-byte limit")
            continue
        try:
            fetched = await fetcher.fetch(str(url), source)
        except MediaRefused as error:
            refused.append(f"{name}: {error.reason}")
            continue
        except httpx.HTTPError as error:
            refused.append(f"{name}: download failed ({type(error).__name__})")
            continue
        mime = str(entry.get("mimetype") or fetched.content_type.split(";")[0].strip())
        if fetched.content_type.startswith("text/html") and not mime.startswith("text/html"):
            refused.append(f"{name}: Slack answered with a web page (is `files:read` granted?)")
            continue
        try:
            async with db.transaction() as session:
                stored = stored_files.store_file(
                    session, name=name, mime_type=mime, data=fetched.content, max_bytes=max_bytes
                )
                attachments.append(stored_files.attachment_of(stored))
        except stored_files.FileTooLarge as error:
            refused.append(f"{name}: {error}")
    return Relayed(attachments=attachments, refused=refused)
