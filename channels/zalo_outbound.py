"""Files on Zalo OA: upload, then send the attachment as its own CS message (research §4.4).

Images: `POST /v2.0/oa/upload/image` → `attachment_id`, sent as a `template` / `media` element.
Documents: `POST /v2.0/oa/upload/file` → `token`, sent as `{type: "file", payload: {token}}`.
⚠ Limits from a public integration, not Zalo's own page (nextlevelbuilder/goclaw, Zalo OA
channel): images up to 1 MB, files up to 5 MB, and the file upload takes PDF/DOC/DOCX only.
Everything else (a ZIP, a 3 MB photo) reaches the customer as the signed link in the text.
"""

from __future__ import annotations

from typing import Any, Literal

from channels.base import OutboundFile
from channels.zalo_api import ZaloApi

UploadKind = Literal["image", "file"]
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_IMAGE_BYTES = 1024 * 1024
FILE_TYPES = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
)
MAX_FILE_BYTES = 5 * 1024 * 1024


def upload_kind(file: OutboundFile) -> UploadKind | None:
    """Which upload Zalo takes this file through, or None: send the link instead."""
    mime = file.mime_type.lower()
    if mime in IMAGE_TYPES and file.size <= MAX_IMAGE_BYTES:
        return "image"
    if mime in FILE_TYPES and file.size <= MAX_FILE_BYTES:
        return "file"
    return None


async def send_file(api: ZaloApi, user_id: str, file: OutboundFile, kind: UploadKind) -> str:
    """Upload, then send; a retry uploads again (the upload itself sends nothing)."""
    ref = await api.upload(kind, name=file.name, mime_type=file.mime_type, data=file.data)
    return await api.send_message(user_id, {"attachment": attachment(kind, ref)})


def attachment(kind: UploadKind, ref: str) -> dict[str, Any]:
    if kind == "image":
        element = {"media_type": "image", "attachment_id": ref}
        return {"type": "template", "payload": {"template_type": "media", "elements": [element]}}
    return {"type": "file", "payload": {"token": ref}}
