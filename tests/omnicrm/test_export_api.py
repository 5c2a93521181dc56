"""GET /api/v1/conversations/export: roles, formats, download headers, audit, routing."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import AuditLog
from tests.conftest import Harness
from tests.crm_core.test_export_rows import HEADER, ROW_BOT, ROW_HANDED, ROW_OPEN
from tests.crm_core.test_export_rows import seed_export_fixture as seed

PATH = "/api/v1/conversations/export"
DAY = {"from": "2025-03-10", "to": "2025-03-10"}


async def test_supervisor_downloads_the_csv_and_it_is_audited(harness: Harness) -> None:
    await seed(harness.runtime.db)
    response = await harness.get(PATH, Role.SUPERVISOR, format="csv", **DAY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="conversations-2025-03-10-2025-03-10.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.decode("utf-8") == "\ufeff" + HEADER + ROW_HANDED + ROW_BOT + ROW_OPEN
    async with harness.runtime.db.reading() as session:
        entries = (await session.scalars(select(AuditLog))).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.actor_type, entry.object_type) == (
        "export",
        "api_key",
        "conversations",
    )
    assert entry.actor_id
    assert entry.data == {
        "kind": "conversations",
        "format": "csv",
        "from": "2025-03-10",
        "to": "2025-03-10",
        "rows": 3,
    }


async def test_json_and_filters(harness: Harness) -> None:
    await seed(harness.runtime.db)
    response = await harness.get(PATH, Role.ADMIN, format="json", channel="zalo", **DAY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "conversations-2025-03-10-2025-03-10.json" in response.headers["content-disposition"]
    assert [row["conversation_id"] for row in response.json()] == ["c4"]


async def test_agents_get_403_not_a_conversation_lookup(harness: Harness) -> None:
    await seed(harness.runtime.db)
    denied = await harness.get(PATH, Role.AGENT, format="csv", **DAY)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert await harness.count(AuditLog) == 0
    # The id route still works beside it: "export" is only taken by the export route.
    assert (await harness.get("/api/v1/conversations/c1", Role.AGENT)).status_code == 200
    missing = await harness.get("/api/v1/conversations/exports", Role.AGENT)
    assert missing.status_code == 404


async def test_bad_format_and_range_are_422(harness: Harness) -> None:
    bad = await harness.get(PATH, Role.SUPERVISOR, format="pdf")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    backwards = await harness.get(
        PATH, Role.SUPERVISOR, **{"from": "2025-03-11", "to": "2025-03-10"}
    )
    assert backwards.status_code == 422
    assert (await harness.get(PATH, Role.SUPERVISOR, to="10/03/2025")).status_code == 422
    assert await harness.count(AuditLog) == 0


async def test_without_a_range_it_exports_the_last_30_days(harness: Harness) -> None:
    await seed(harness.runtime.db)  # 2025 data: outside the default window
    response = await harness.get(PATH, Role.SUPERVISOR)
    assert response.status_code == 200
    assert response.text == "\ufeff" + HEADER
    assert response.headers["content-disposition"].endswith('.csv"')
