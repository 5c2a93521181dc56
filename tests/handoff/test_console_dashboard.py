"""GET /console/dashboard: the API's numbers as tiles and inline SVG charts, for supervisors.

The week fixture of tests/crm_core/test_metrics.py has hand-computed figures (WEEK); the page
must show exactly those, and the very values GET /api/v1/metrics/summary returns.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import Ticket
from handoff.console.charts import Bar, Series, horizontal_bars, nice_step, stacked_columns
from tests.conftest import Harness
from tests.crm_core.test_metrics import WEEK, seed
from tests.handoff.console_helpers import ConsoleUser, console_user

PAGE = "/console/dashboard"
WEEK_QUERY = {"from": "2025-03-01", "to": "2025-03-07"}
ENGLISH = {"accept-language": "en"}
TILE = re.compile(
    r'id="tile-(\w+)">\s*<span class="dashboard-tile-label">[^<]*</span>\s*'
    r'<data class="dashboard-tile-value" value="([^"]*)">([^<]*)</data>\s*'
    r'(?:<span class="dashboard-tile-note">([^<]*)</span>)?'
)
SVG = re.compile(r"<svg.*?</svg>", re.S)

# What a reader sees for WEEK, worked out by hand from the figures.
WEEK_SHOWN = {
    "conversations": "4",
    "handoff_rate": "50.0 %",
    "bot_containment": "50.0 %",
    "first_response_median_s": "2 min",  # 120 s
    "first_response_p90_s": "2 min 48 s",  # 168 s
    "resolution_median_s": "20 min",  # 1200 s
    "resolution_p90_s": "28 min",  # 1680 s
    "csat": "4.00",
    "csat_satisfied": "50.0 %",
    "sla_breaches": "1",
    "complaints": "2",
    "bookings": "2",
    "no_shows": "1",
    "repeat_contact_rate": "33.3 %",
    "repeat_contact_7d_rate": "50.0 %",
    "retention_90d": "66.7 %",
    "lead_conversion": "50.0 %",
}


def tiles_of(html: str) -> dict[str, tuple[str, str, str]]:
    """tile key → (raw value attribute, shown text, note)."""
    return {key: (raw, shown, note or "") for key, raw, shown, note in TILE.findall(html)}


async def supervisor(harness: Harness) -> ConsoleUser:
    return await console_user(harness, Role.SUPERVISOR, email="sup@example.com")


async def page(harness: Harness, user: ConsoleUser, **params: Any) -> Any:
    return await harness.client.get(PAGE, params=params, cookies=user.cookies, headers=ENGLISH)


def same_number(raw: str, api: Any) -> bool:
    return raw == "" if api is None else float(raw) == float(api)


async def test_the_page_shows_the_hand_computed_numbers_and_the_apis(harness: Harness) -> None:
    await seed(harness.runtime.db)
    user = await supervisor(harness)
    response = await page(harness, user, **WEEK_QUERY)
    assert response.status_code == 200, response.text
    tiles = tiles_of(response.text)
    assert {key: shown for key, (_, shown, _) in tiles.items()} == WEEK_SHOWN
    api = (await harness.get("/api/v1/metrics/summary", Role.SUPERVISOR, **WEEK_QUERY)).json()
    api["complaints"] = sum(api["complaints"]["by_category"].values())
    for key, (raw, _, _) in tiles.items():
        assert same_number(raw, api[key]), (key, raw, api[key])
        assert key == "complaints" or same_number(raw, WEEK[key]), key
    assert tiles["lead_conversion"][2] == "1 of 2 leads"
    assert tiles["csat"][2] == "2 answers"
    assert tiles["sla_breaches"][2] == "1 conversations, 50.0 % of handoffs"
    assert tiles["retention_90d"][2] == "3 customers counted, 0 still inside their 90 days"
    assert 'value="2025-03-01"' in response.text and 'value="2025-03-07"' in response.text


async def test_charts_are_inline_svg_without_script_or_inline_style(harness: Harness) -> None:
    await seed(harness.runtime.db)
    user = await supervisor(harness)
    html = (await page(harness, user, **WEEK_QUERY)).text
    charts = SVG.findall(html)
    assert len(charts) == 11
    for svg in charts:
        assert "<script" not in svg and "style=" not in svg and "<style" not in svg
        assert 'role="img"' in svg and "aria-labelledby=" in svg and "<title" in svg
    assert "style=" not in html and "<style" not in html
    per_day = html.split('id="chart-per_day"')[1].split("</svg>")[0]
    assert per_day.count('class="series-telegram"') == 3 + 1  # three days and the legend
    assert "<title>2025-03-02 · zalo: 1</title>" in per_day
    assert per_day.count('text-anchor="middle"') == 7  # a label for each day of the week
    frt = html.split('id="chart-frt"')[1].split("</svg>")[0]
    assert "<title>Median: 2 min</title>" in frt and "<title>p90: 2 min 48 s</title>" in frt
    severities = html.split('id="chart-severities"')[1].split("</svg>")[0]
    assert severities.index("High: 1") < severities.index("Normal: 1")
    csat = html.split('id="chart-csat"')[1].split("</svg>")[0]
    assert "<title>5 ★: 1</title>" in csat and "<title>4 ★: 0</title>" in csat
    bookings = html.split('id="chart-bookings"')[1].split("</svg>")[0]
    assert "<title>Bookings: 2</title>" in bookings and "<title>No-shows: 1</title>" in bookings
    assert "<td>2025-03-04</td><td>telegram</td><td>1</td>" in html  # the table beside it


async def test_channel_filter_and_vietnamese_numbers(harness: Harness) -> None:
    await seed(harness.runtime.db)
    user = await supervisor(harness)
    telegram = tiles_of((await page(harness, user, channel="telegram", **WEEK_QUERY)).text)
    assert telegram["conversations"][:2] == ("3", "3")
    assert telegram["first_response_median_s"][1] == "1 min"
    assert telegram["lead_conversion"][1] == "0.0 %"
    vietnamese = await harness.client.get(
        PAGE, params=WEEK_QUERY, cookies=user.cookies, headers={"accept-language": "vi"}
    )
    shown = tiles_of(vietnamese.text)
    assert shown["retention_90d"][1] == "66,7 %" and shown["csat"][1] == "4,00"
    assert "Bảng số liệu" in vietnamese.text


async def test_bad_filters_are_422_with_the_reason(harness: Harness) -> None:
    user = await supervisor(harness)
    cases = [
        ({"from": "2025-13-01"}, "From: enter a date such as 2025-03-01."),
        ({"to": "yesterday"}, "To (included): enter a date such as 2025-03-01."),
        ({"from": "2025-03-08", "to": "2025-03-01"}, "must not be after"),
        ({"channel": "fax"}, "Unknown channel."),
    ]
    for params, reason in cases:
        response = await page(harness, user, **params)
        assert response.status_code == 422, params
        assert reason in response.text and 'class="error"' in response.text
        assert "<svg" not in response.text


async def test_empty_range_says_so(harness: Harness) -> None:
    await seed(harness.runtime.db)
    user = await supervisor(harness)
    html = (await page(harness, user, **{"from": "2031-01-01", "to": "2031-01-03"})).text
    tiles = tiles_of(html)
    assert tiles["conversations"][:2] == ("0", "0")
    assert tiles["csat"][:2] == ("", "—") and tiles["first_response_p90_s"][:2] == ("", "—")
    assert html.count('<text class="chart-empty"') == 11  # every chart says it has nothing
    assert '<td colspan="3">No data in this range.</td>' in html


async def test_labels_from_the_data_are_escaped_in_the_svg(harness: Harness) -> None:
    await seed(harness.runtime.db)
    async with harness.runtime.db.transaction() as session:
        customer_id = (await session.get(Ticket, await _any_ticket(session))).customer_id
        session.add(
            Ticket(number=99, customer_id=customer_id, subject="x", category="<script>x</script>")
        )
    user = await supervisor(harness)
    html = (await page(harness, user)).text  # the default range: the last 30 days
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;: 1" in html


async def _any_ticket(session: Any) -> str:
    return (await session.scalars(select(Ticket.id).limit(1))).one()


async def test_supervisors_only(harness: Harness) -> None:
    anonymous = await harness.client.get(PAGE)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console"
    agent = await console_user(harness, Role.AGENT)
    refused = await harness.client.get(PAGE, cookies=agent.cookies, headers=ENGLISH)
    assert refused.status_code == 403 and "<svg" not in refused.text
    queue = await harness.client.get("/console/queue", cookies=agent.cookies, headers=ENGLISH)
    assert 'href="/console/dashboard"' not in queue.text
    assert 'href="/console/export"' not in queue.text
    admin = await console_user(harness, Role.ADMIN)
    opened = await harness.client.get(PAGE, cookies=admin.cookies, headers=ENGLISH)
    assert opened.status_code == 200
    assert 'href="/console/dashboard" aria-current="page">Dashboard</a>' in opened.text
    assert 'href="/console/export" >Export</a>' in opened.text


def test_chart_helpers() -> None:
    assert [nice_step(v) for v in (0, 3, 7, 40, 130)] == [1.0, 1.0, 2.0, 10.0, 50.0]
    assert nice_step(0.8, whole=False) == 0.2
    svg = horizontal_bars("x", "Title & co", [Bar("a<b", 2, "2"), Bar("c", 4, "4")], empty="-")
    assert '<title id="x-t">Title &amp; co</title>' in svg
    assert 'width="230.0"' in svg and 'width="115.0"' in svg  # the longest fills the room
    assert "<title>a&lt;b: 2</title>" in svg and "a<b" not in svg
    columns = stacked_columns(
        "d", "T", ["2025-01-01", "2025-01-02"], [Series("s", [0, 3], "series-s")], empty="-"
    )
    assert "2025-01-02: 3 (s 3)" in columns and columns.count("<rect") == 1 + 1
