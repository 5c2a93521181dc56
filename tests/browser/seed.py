"""A small fixed world for the browser tests and the README screenshots: a console user of each
role, one conversation per channel, a hostile message, and four weeks of history for the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.auth import create_agent
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.types import utcnow
from tests.browser.seed_history import history
from tests.browser.world import Agent, People, Thread, write

PASSWORD = "browser-pass-1"
USERS = {
    Role.AGENT: ("agent@omnicrm.test", "Lan Nguyễn"),
    Role.SUPERVISOR: ("supervisor@omnicrm.test", "Minh Trần"),
    Role.ADMIN: ("admin@omnicrm.test", "Hà Phạm"),
}
HOSTILE_TEXT = (
    'Xin chào <script>alert(1)</script> <img src=x onerror="window.__xss=1"> '
    '<a href="javascript:window.__xss=2">click</a> [x](javascript:alert(1))'
)

SHOWCASE = (
    Thread(
        "telegram",
        "Nguyễn Văn An",
        "resolved",
        (
            (
                0,
                "customer",
                "Chào shop, mình muốn đặt lịch chăm sóc da mặt sáng thứ Bảy",
                "book_appointment",
                0.94,
            ),
            (1, "bot", "Dạ, thứ Bảy còn trống 9:00 và 10:30. Anh chọn giờ nào ạ?", None, None),
            (3, "customer", "9:00 nhé", "inform", 0.88),
            (
                3,
                "bot",
                "Đã đặt lịch Chăm sóc da mặt cơ bản lúc 9:00 thứ Bảy. Hẹn gặp anh!",
                None,
                None,
            ),
        ),
        csat=5,
    ),
    Thread(
        "zalo",
        "Trần Thị Bích",
        "waiting_agent",
        (
            (0, "customer", "Cho mình hỏi giá gói điều trị mụn chuyên sâu?", "ask_price", 0.91),
            (1, "bot", "Gói Điều trị mụn chuyên sâu là 1.200.000đ cho 90 phút.", None, None),
            (2, "customer", "Mình muốn nói chuyện với nhân viên", "human_handoff", 0.97),
            (2, "bot", "Mình đã chuyển cho nhân viên, chị chờ một chút nhé.", None, None),
        ),
    ),
    Thread(
        "sms",
        "Lê Minh Quân",
        "agent",
        (
            (0, "customer", "Can I move my appointment tomorrow to 3pm?", "reschedule", 0.86),
            (1, "bot", "Let me find someone who can help with that.", None, None),
            (6, "agent", "Hi Quân, 3pm works: you are now booked for 15:00 tomorrow.", None, None),
        ),
    ),
    Thread(
        "email",
        "Phạm Thu Hoa",
        "agent",
        (
            (
                0,
                "customer",
                "The invoice for order #1042 says 550.000đ, the price list 450.000đ.",
                "complaint",
                0.9,
            ),
            (
                1,
                "bot",
                "Sorry about that. We have opened a ticket and will reply by e-mail.",
                None,
                None,
            ),
            (
                12,
                "agent",
                "Hello Hoa, you are right: we refunded the 100.000đ difference.",
                None,
                None,
            ),
        ),
        subject="Wrong amount on invoice #1042",
        ticket=("billing", "high"),
    ),
    Thread(
        "webchat",
        "Đỗ Gia Huy",
        "bot",
        (
            (0, "customer", "Shop mở cửa mấy giờ vậy?", "opening_hours", 0.95),
            (0, "bot", "Chúng tôi mở cửa 9:00–19:00, từ thứ Hai đến thứ Bảy.", None, None),
        ),
    ),
)
HOSTILE = Thread(
    "webchat", "Hostile Tester", "waiting_agent", ((0, "customer", HOSTILE_TEXT, None, None),)
)


@dataclass(frozen=True)
class Seeded:
    """What the tests look for: logins, and the conversation shown for each channel."""

    emails: dict[Role, str]
    conversations: dict[str, str]  # channel → id of its showcase conversation
    openings: dict[str, str]  # channel → the customer's first words there
    hostile_id: str


async def seed(db: Database, *, now: datetime | None = None) -> Seeded:
    """Write the whole world in one transaction."""
    now = now or utcnow()
    async with db.transaction() as session:
        agents = {role: await _user(session, role) for role in USERS}
        agent = agents[Role.AGENT]
        ids = {}
        for index, thread in enumerate(SHOWCASE):
            started = now - timedelta(minutes=30 * (len(SHOWCASE) - index) + 15)
            conversation = await write(session, thread, started=started, agent=agent)
            ids[thread.channel] = conversation.id
        # A day old, so the list's first screen shows ordinary conversations.
        hostile = await write(session, HOSTILE, started=now - timedelta(hours=20), agent=agent)
        await history(session, now=now, agent=agent, people=People())
    return Seeded(
        emails={role: email for role, (email, _) in USERS.items()},
        conversations=ids,
        openings={thread.channel: thread.turns[0][2] for thread in SHOWCASE},
        hostile_id=hostile.id,
    )


async def _user(session: AsyncSession, role: Role) -> Agent:
    email, name = USERS[role]
    agent = await create_agent(session, email=email, role=role, password=PASSWORD, name=name)
    return Agent(agent.id, agent.name)
