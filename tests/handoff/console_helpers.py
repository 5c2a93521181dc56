"""Console sessions for tests: a user of each role, logged in through the real login form."""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.auth import create_agent
from crm_core.enums import Role
from tests.conftest import Harness

PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class ConsoleUser:
    """A logged-in console user: send `cookies` with each request and `csrf` with each form."""

    agent_id: str
    email: str
    cookie: str
    csrf: str

    @property
    def cookies(self) -> dict[str, str]:
        return {"omnicrm_console": self.cookie}


async def console_user(
    harness: Harness, role: Role = Role.AGENT, *, email: str | None = None, name: str | None = None
) -> ConsoleUser:
    """Create a user with `role` and log in with e-mail and password."""
    address = email or f"{role.value}@example.com"
    async with harness.runtime.db.transaction() as session:
        agent = await create_agent(
            session, email=address, role=role, password=PASSWORD, name=name or role.value.title()
        )
    login = await harness.client.post(
        "/console/login", data={"email": address, "password": PASSWORD}
    )
    assert login.status_code == 303, login.text
    cookie = login.cookies["omnicrm_console"]
    harness.client.cookies.clear()  # each request says who it is; the client remembers no one
    page = await harness.client.get("/console/queue", cookies={"omnicrm_console": cookie})
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return ConsoleUser(agent.id, address, cookie, csrf)
