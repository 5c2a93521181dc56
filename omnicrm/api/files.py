"""`GET /files/{id}?expires=&signature=`: a stored file for whoever holds the signed link.

The link is the credential (Twilio fetches MMS media with it; customers open it from a text),
so there is no API key: the HMAC signature is checked in constant time, then the expiry.
Served as a download, never rendered from our origin (research reliability.md #21).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from channels.file_links import FileLinks, LinkCheck
from channels.outbound_files import safe_mime
from crm_core.files import load_file
from omnicrm.api.deps import RuntimeDep
from omnicrm.api.errors import ApiError
from omnicrm.settings import Settings

router = APIRouter(tags=["files"])


def file_links(settings: Settings) -> FileLinks:
    """The links of this deployment: SECRET_KEY (random per process when unset) + PUBLIC_URL."""
    return FileLinks.for_deployment(
        secret_key=settings.secret("secret_key"), public_url=settings.public_url
    )


@router.api_route("/files/{file_id}", methods=["GET", "HEAD"], include_in_schema=False)
async def download(
    file_id: str,
    runtime: RuntimeDep,
    expires: Annotated[str, Query(max_length=20)] = "",
    signature: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """403 for a bad or missing signature, 410 once expired, 404 for a file that is gone."""
    now = datetime.now(UTC)
    verdict = file_links(runtime.settings).check(
        file_id, expires=expires, signature=signature, now=now
    )
    if verdict is LinkCheck.BAD:
        raise ApiError(403, "bad_signature", "the link is not valid")
    if verdict is LinkCheck.EXPIRED:
        raise ApiError(410, "link_expired", "the link has expired; ask for a new one")
    async with runtime.db.reading() as session:
        stored = await load_file(session, file_id)
    if stored is None:
        raise ApiError(404, "not_found", "the file no longer exists")
    return Response(
        bytes(stored.data),
        media_type=safe_mime(stored.mime_type),
        headers=_headers(stored.name, int(expires), now),
    )


def _headers(name: str, expires: int, now: datetime) -> dict[str, str]:
    """A download (RFC 6266 with a UTF-8 name), never sniffed or run, cached only privately
    and never past the link's own expiry."""
    ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    max_age = max(0, expires - int(now.timestamp()))
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": f"private, max-age={max_age}",
        "Expires": format_datetime(datetime.fromtimestamp(expires, UTC), usegmt=True),
        "Referrer-Policy": "no-referrer",
    }
