"""Shared by the dialogue tests: a catalogue, a fixed clock, Telegram and web chat turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm_core.demo import SERVICES
from crm_core.models import Conversation, Service, StaffMember
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# Friday 20 Nov 2026, 10:00 in Ho Chi Minh City: "mai" is Saturday 21/11.
FRIDAY_10AM = datetime(2026, 11, 20, 10, 0, tzinfo=HCM)
DIALOGUE_SETTINGS = {"booking_hours": "mon-sun 09:00-19:00", "flow_timeout_minutes": 30}


async def seed_catalogue(harness: Harness) -> None:
    """The demo services (keys the NLU knows), one doctor for the consultation."""
    async with harness.runtime.db.transaction() as session:
        for key, name_vi, name_en, minutes, price in SERVICES:
            session.add(
                Service(
                    key=key,
                    name_vi=name_vi,
                    name_en=name_en,
                    duration_minutes=minutes,
                    price=price,
                )
            )
        session.add(StaffMember(name="BS. Hà", services=["skin_consultation"]))


def freeze(harness: Harness, now: datetime) -> None:
    harness.runtime.engine.clock = lambda: now.astimezone(UTC)


class TelegramChat:
    """One Telegram user writing at a fixed instant; `say` returns the bot's reply."""

    def __init__(
        self, harness: Harness, fake: FakeTelegram, *, user_id: int = 4200000101, first="Lan"
    ) -> None:
        self.h, self.fake, self.user_id, self.first = harness, fake, user_id, first
        self.now = FRIDAY_10AM
        self._update = user_id % 100000 * 100

    async def say(self, text: str) -> str:
        before = len([c for c in self.fake.sent() if str(c.get("chat_id")) == str(self.user_id)])
        self._update += 1
        update = updates.text_update(self._update, text, user_id=self.user_id, first=self.first)
        update["message"]["date"] = int(self.now.timestamp())
        freeze(self.h, self.now)
        response = await self.h.telegram(update)
        assert response.status_code == 200
        await self.h.settle()
        mine = [c for c in self.fake.sent() if str(c.get("chat_id")) == str(self.user_id)]
        assert len(mine) == before + 1, f"no single reply to {text!r}: {mine[before:]}"
        return str(mine[-1]["text"])

    async def conversation(self) -> Conversation:
        async with self.h.runtime.db.reading() as session:
            stmt = select(Conversation).order_by(Conversation.created_at.desc())
            rows = (await session.execute(stmt)).scalars().all()
        return next(c for c in rows if c.channel == "telegram")


class WebChat:
    """A web chat visitor (real clock: the web chat stamps messages on arrival)."""

    def __init__(self, harness: Harness, session: dict[str, str]) -> None:
        self.h, self.session = harness, session
        self.count = 0
        self._n = 0

    @classmethod
    async def open(cls, harness: Harness, **body: Any) -> WebChat:
        response = await harness.client.post("/api/v1/webchat/sessions", json=body)
        assert response.status_code == 201, response.text
        return cls(harness, response.json())

    @property
    def customer_id(self) -> str:
        return self.session["customer_id"]

    async def say(self, text: str) -> str:
        self._n += 1
        headers = {"X-Webchat-Token": self.session["token"]}
        sent = await self.h.client.post(
            "/api/v1/webchat/messages",
            json={
                "session_id": self.session["session_id"],
                "text": text,
                "client_message_id": f"m{self._n}",
            },
            headers=headers,
        )
        assert sent.status_code == 202, sent.text
        for _ in range(200):
            page = await self.h.client.get(
                "/api/v1/webchat/messages",
                params={"session_id": self.session["session_id"]},
                headers=headers,
            )
            items = page.json()["items"]
            if len(items) >= self.count + 2:
                self.count = len(items)
                assert items[-1]["direction"] == "out", items
                return str(items[-1]["text"])
            await asyncio.sleep(0.05)
        raise AssertionError(f"no reply to {text!r}")


async def appointments(harness: Harness, customer_id: str) -> list[dict[str, Any]]:
    response = await harness.get("/api/v1/appointments", customer_id=customer_id)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])
