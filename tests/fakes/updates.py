"""Telegram Update payloads shaped like the Bot API documentation's examples."""

from __future__ import annotations

from typing import Any


def user(
    user_id: int = 4200000101, first: str = "Lan", last: str | None = "Nguyen"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user_id,
        "is_bot": False,
        "first_name": first,
        "language_code": "vi",
    }
    if last:
        data["last_name"] = last
    return data


def text_update(
    update_id: int,
    text: str,
    *,
    user_id: int = 4200000101,
    message_id: int | None = None,
    first: str = "Lan",
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id if message_id is not None else update_id % 100000,
            "from": user(user_id, first),
            "chat": {"id": user_id, "first_name": first, "type": "private"},
            "date": 1795000000,
            "text": text,
        },
    }


def photo_update(update_id: int, caption: str, *, user_id: int = 4200000101) -> dict[str, Any]:
    sizes = [
        {
            "file_id": f"small-{update_id}",
            "file_unique_id": "s1",
            "width": 90,
            "height": 90,
            "file_size": 1200,
        },
        {
            "file_id": f"large-{update_id}",
            "file_unique_id": "s2",
            "width": 800,
            "height": 800,
            "file_size": 64000,
        },
    ]
    update = text_update(update_id, "", user_id=user_id)
    message = update["message"]
    del message["text"]
    message["photo"] = sizes
    message["caption"] = caption
    return update


def document_update(update_id: int, *, user_id: int = 4200000101) -> dict[str, Any]:
    update = text_update(update_id, "", user_id=user_id)
    message = update["message"]
    del message["text"]
    message["document"] = {
        "file_id": f"doc-{update_id}",
        "file_unique_id": "d1",
        "file_name": "hoa-don.pdf",
        "mime_type": "application/pdf",
        "file_size": 20480,
    }
    return update


def contact_update(
    update_id: int, phone: str, *, user_id: int = 4200000101, owner_id: int | None = None
) -> dict[str, Any]:
    update = text_update(update_id, "", user_id=user_id)
    message = update["message"]
    del message["text"]
    message["contact"] = {
        "phone_number": phone,
        "first_name": "Lan",
        "user_id": owner_id or user_id,
    }
    return update


def edited_update(update_id: int, text: str, *, user_id: int = 4200000101) -> dict[str, Any]:
    update = text_update(update_id, text, user_id=user_id, message_id=7)
    message = update.pop("message")
    message["edit_date"] = 1795000100
    update["edited_message"] = message
    return update
