"""GET /console/export and /console/export/download: the API's export from the console,
streamed, audited with the console user as the actor, and closed to agents."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import AuditLog
from tests.conftest import Harness
from tests.crm_core.test_export_rows import HEADER, ROW_BOT, ROW_HANDED, ROW_OPEN
from tests.crm_core.test_export_rows import seed_export_fixture as seed
from tests.handoff.console_helpers import console_user

PAGE = "/console/export"
DOWNLOAD = "/console/export/download"
DAY = {"from": "2025-03-10", "to": "2025-03-10"}
ENGLISH = {"accept-language": "en"}


async def _audit(harness: Harness) -> list[AuditLog]:
    async with harness.runtime.db.reading() as session:
        return list((await session.scalars(select(AuditLog))).all())


async def test_supervisor_downloads_the_csv_rows_and_it_is_audited(harness: Harness) -> None:
    await seed(harness.runtime.db)
    user = await console_user(harness, Role.SUPERVISOR, email="mai@example.com")
    response = await harness.client.get(
        DOWNLOAD, params={**DAY, "format": "csv"}, cookies=user.cookies
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="conversations-2025-03-10-2025-03-10.csv"'
    )
    assert response.text == "\ufeff" + HEADER + ROW_HANDED + ROW_BOT + ROW_OPEN
    [entry] = await _audit(harness)
    assert (entry.action, entry.object_type) == ("export", "conversations")
    assert (entry.actor_type, entry.actor_id) == ("agent", user.agent_id)
    assert entry.data == {
        "kind": "conversations",
        "format": "csv",
        "from": "2025-03-10",
        "to": "2025-03-10",
        "rows": 3,
    }


async def test_json_with_a_channel(harness: Harness) -> None:
    await seed(harness.runtime.db)
    admin = await console_user(harness, Role.ADMIN, email="boss@example.com")
    response = await harness.client.get(
        DOWNLOAD, params={**DAY, "format": "json", "channel": "zalo"}, cookies=admin.cookies
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert [row["conversation_id"] for row in response.json()] == ["c4"]
    [entry] = await _audit(harness)
    assert entry.data["channel"] == "zalo" and entry.data["rows"] == 1


async def test_agents_get_403_and_nothing_is_audited(harness: Harness) -> None:
    await seed(harness.runtime.db)
    agent = await console_user(harness, Role.AGENT)
    for path, params in ((PAGE, {}), (DOWNLOAD, {**DAY, "format": "csv"})):
        refused = await harness.client.get(
            path, params=params, cookies=agent.cookies, headers=ENGLISH
        )
        assert refused.status_code == 403, path
        assert "Not allowed" in refused.text and "c1," not in refused.text
    harness.client.cookies.clear()  # the login left its cookie in the client
    anonymous = await harness.client.get(DOWNLOAD, params=DAY)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console"
    assert await _audit(harness) == []


async def test_the_form_and_its_defaults(harness: Harness) -> None:
    user = await console_user(harness, Role.SUPERVISOR, email="mai@example.com")
    page = await harness.client.get(PAGE, cookies=user.cookies, headers=ENGLISH)
    assert page.status_code == 200
    html = page.text
    assert 'action="/console/export/download"' in html and 'method="get"' in html
    assert 'name="format" value="csv" checked' in html
    assert 'name="format" value="json" >' in html
    linked = await harness.client.get(
        PAGE,
        params={"from": "2025-03-01", "to": "2025-03-07", "channel": "zalo"},
        cookies=user.cookies,
    )
    assert 'value="2025-03-01"' in linked.text and 'value="2025-03-07"' in linked.text
    assert '<option value="zalo" selected>' in linked.text
    # No range: the last 30 days, like the API (the 2025 fixture is outside it).
    default = await harness.client.get(DOWNLOAD, cookies=user.cookies)
    assert default.status_code == 200 and default.text == "\ufeff" + HEADER


async def test_bad_input_is_422_on_the_form_and_not_audited(harness: Harness) -> None:
    user = await console_user(harness, Role.SUPERVISOR, email="mai@example.com")
    cases = [
        ({**DAY, "format": "pdf"}, "Choose CSV or JSON."),
        ({"from": "2025-03-11", "to": "2025-03-10"}, "must not be after"),
        ({**DAY, "channel": "fax"}, "Unknown channel."),
        ({"from": "10/03/2025", "to": "2025-03-10"}, "From: enter a date"),
        ({"from": "2025-03-10", "to": "9999-12-31"}, "To (included): enter a date"),
    ]
    for params, reason in cases:
        response = await harness.client.get(
            DOWNLOAD, params=params, cookies=user.cookies, headers=ENGLISH
        )
        assert response.status_code == 422, params
        assert reason in response.text and 'role="alert"' in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert await _audit(harness) == []
