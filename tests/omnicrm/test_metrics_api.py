"""GET /api/v1/metrics/summary over the hand-computed fixture of tests/crm_core/test_metrics."""

from __future__ import annotations

from typing import Any

from crm_core.enums import Role
from tests.conftest import Harness
from tests.crm_core.test_metrics import EMPTY, WEEK, WEEK_TELEGRAM, seed

PATH = "/api/v1/metrics/summary"


def figures(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key in WEEK}


async def test_supervisor_reads_the_week(harness: Harness) -> None:
    await seed(harness.runtime.db)
    response = await harness.get(
        PATH, Role.SUPERVISOR, **{"from": "2025-03-01", "to": "2025-03-07"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert figures(body) == WEEK
    assert body["from"] == "2025-03-01T00:00:00+07:00"
    assert body["to"] == "2025-03-08T00:00:00+07:00"
    assert body["channel"] is None
    assert set(body) == set(WEEK) | {"from", "to", "channel", "timezone"}


async def test_agent_is_refused(harness: Harness) -> None:
    response = await harness.get(PATH, Role.AGENT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_channel_filter_and_date_edges(harness: Harness) -> None:
    await seed(harness.runtime.db)
    week = {"from": "2025-03-01", "to": "2025-03-07"}
    telegram = await harness.get(PATH, Role.SUPERVISOR, channel="telegram", **week)
    assert figures(telegram.json()) == WEEK_TELEGRAM
    assert telegram.json()["channel"] == "telegram"
    # `to` as a date includes that local day; the day before `from` adds the one at 23:59:59.
    wider = await harness.get(PATH, Role.ADMIN, **{"from": "2025-02-28", "to": "2025-03-08"})
    assert wider.json()["conversations"] == 6
    instants = {"from": "2025-03-01T00:00:00+07:00", "to": "2025-03-08T00:00:00+07:00"}
    exact = await harness.get(PATH, Role.SUPERVISOR, **instants)
    assert figures(exact.json()) == WEEK
    naive = {"from": "2025-02-28T23:59:59", "to": "2025-03-01T00:00:00"}
    assert (await harness.get(PATH, Role.SUPERVISOR, **naive)).json()["conversations"] == 1


async def test_empty_range_and_default_range(harness: Harness) -> None:
    await seed(harness.runtime.db)
    empty = await harness.get(PATH, Role.SUPERVISOR, **{"from": "2031-01-01", "to": "2031-01-31"})
    assert figures(empty.json()) == EMPTY
    default = await harness.get(PATH, Role.SUPERVISOR)
    assert default.status_code == 200
    body = default.json()
    assert body["conversations"] == 0
    assert body["from"] < body["to"] and body["to"].endswith("T00:00:00+07:00")


async def test_bad_input_is_422_with_a_reason(harness: Harness) -> None:
    cases = [
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "2025-03-08", "to": "2025-03-01"}, "after"),
        ({"channel": "fax"}, "channel"),
    ]
    for params, reason in cases:
        response = await harness.get(PATH, Role.SUPERVISOR, **params)
        assert response.status_code == 422, params
        error = response.json()["error"]
        assert error["code"] == "validation_error" and reason in error["message"], error
