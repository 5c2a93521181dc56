"""The files of an outbound message, loaded for sending: stored bytes plus a signed link."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from channels.base import OutboundFile
from channels.file_links import FileLinks
from crm_core.db import Database
from crm_core.files import file_id_of, load_file

log = logging.getLogger(__name__)


class MissingFile(Exception):
    """An attachment names a stored file that is gone: the message can never be sent as is."""


async def load_files(
    db: Database,
    attachments: Sequence[Mapping[str, Any]],
    *,
    links: FileLinks | None,
    now: datetime,
) -> tuple[OutboundFile, ...]:
    """Every `file:<id>` attachment as an OutboundFile (in order); other refs are skipped,
    since a channel's own handle (a Telegram file_id...) cannot be sent on another channel."""
    wanted = [(file_id_of(str(item.get("ref", ""))), item) for item in attachments]
    if not any(file_id for file_id, _ in wanted):
        return ()
    files: list[OutboundFile] = []
    async with db.reading() as session:
        for file_id, item in wanted:
            if file_id is None:
                log.warning("outbound attachment %r is no stored file; skipped", item.get("ref"))
                continue
            stored = await load_file(session, file_id)
            if stored is None:
                name = item.get("name") or "file"
                raise MissingFile(f"attached file {name!r} ({file_id}) no longer exists")
            url = links.url(stored.id, now=now) if links is not None else None
            name, mime = safe_name(stored.name), safe_mime(stored.mime_type)
            files.append(OutboundFile(name, mime, bytes(stored.data), url))
    return tuple(files)


_MIME = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def safe_name(name: str) -> str:
    """No control characters or quotes: the name goes into multipart and MIME headers, where
    aiohttp refuses them (header injection) and a quote would end the parameter."""
    cleaned = "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in name)
    return cleaned.replace('"', "'").replace("\\", "_").strip() or "file"


def safe_mime(mime_type: str) -> str:
    """A plain `type/subtype`, else the neutral `application/octet-stream`."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    return bare if _MIME.fullmatch(bare) else "application/octet-stream"
