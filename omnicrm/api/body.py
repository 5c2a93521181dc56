"""Reading request bodies with a size cap, so a huge body is refused before it is read whole."""

from __future__ import annotations

from fastapi import Request

from omnicrm.api.errors import ApiError


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or 413 once it passes `limit` bytes (checked on the header and the stream)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
