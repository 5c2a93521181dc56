"""The booking REST API: catalogue, staff, holidays, availability and appointments, with
roles, error codes and local times (+07:00)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from crm_core.enums import Role
from crm_core.models import Customer
from crm_core.types import utcnow
from tests.conftest import Harness, make_settings, running_app

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def next_tuesday() -> date:
    """A Tuesday at least two days ahead: clear of the lead time, inside the horizon."""
    day = utcnow().astimezone(HCM).date() + timedelta(days=2)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return day


def local(day: date, hh: int, mm: int = 0) -> str:
    return datetime.combine(day, time(hh, mm), tzinfo=HCM).isoformat()


class Api:
    def __init__(self, harness: Harness) -> None:
        self.h = harness

    async def call(
        self, method: str, path: str, role: Role = Role.ADMIN, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.h.key(role)}"}
        return await self.h.client.request(method, f"/api/v1{path}", headers=headers, **kw)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    async with running_app(make_settings(database_url)) as harness:
        yield Api(harness)


async def customer(api: Api, name: str = "Lan") -> str:
    async with api.h.runtime.db.transaction() as session:
        row = Customer(name=name)
        session.add(row)
        await session.flush()
        return row.id


async def catalogue(api: Api) -> dict[str, Any]:
    """A consultation given by one doctor, and a sauna with two seats and no staff."""
    consult = await api.call(
        "POST",
        "/services",
        Role.SUPERVISOR,
        json={
            "key": "consult",
            "name_vi": "Tư vấn da liễu",
            "name_en": "Skin consultation",
            "duration_minutes": 30,
            "price": 300_000,
            "aliases": ["kham da"],
        },
    )
    assert consult.status_code == 201, consult.text
    sauna = await api.call(
        "POST",
        "/services",
        Role.SUPERVISOR,
        json={
            "key": "sauna",
            "name_vi": "Xông hơi",
            "name_en": "Sauna",
            "duration_minutes": 60,
            "price": 100_000,
            "capacity": 2,
            "buffer_minutes": 15,
        },
    )
    assert sauna.status_code == 201, sauna.text
    doctor = await api.call(
        "POST",
        "/staff",
        Role.SUPERVISOR,
        json={"name": "BS. Hà", "services": ["consult"], "hours": "mon-fri 09:00-17:00"},
    )
    assert doctor.status_code == 201, doctor.text
    return {"consult": consult.json(), "sauna": sauna.json(), "doctor": doctor.json()}


async def test_roles_for_reads_and_writes(api: Api) -> None:
    assert (await api.h.client.get("/api/v1/staff")).status_code == 401
    for path in ("/services", "/staff", "/holidays", "/appointments"):
        response = await api.call("GET", path, Role.AGENT)
        assert response.status_code == 200, path
        assert response.json()["next_cursor"] is None
    writes = [
        (
            "POST",
            "/services",
            {"key": "x", "name_vi": "x", "name_en": "x", "duration_minutes": 30, "price": 1},
        ),
        ("POST", "/staff", {"name": "x"}),
        ("POST", "/holidays", {"day": "2026-12-25", "name": "x"}),
        ("PATCH", "/services/some-id", {"price": 2}),
        ("PATCH", "/staff/some-id", {"name": "y"}),
        (
            "POST",
            "/staff/some-id/time-off",
            {"starts_at": "2026-12-01T09:00:00+07:00", "ends_at": "2026-12-01T10:00:00+07:00"},
        ),
        ("DELETE", "/holidays/some-id", None),
    ]
    for method, path, body in writes:
        response = await api.call(method, path, Role.AGENT, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "forbidden"


async def test_catalogue_and_staff_management(api: Api) -> None:
    made = await catalogue(api)
    consult = made["consult"]
    assert consult["buffer_minutes"] == 0 and consult["capacity"] == 1
    assert consult["aliases"] == ["kham da"] and consult["currency"] == "VND"
    again = await api.call(
        "POST",
        "/services",
        Role.SUPERVISOR,
        json={
            "key": "consult",
            "name_vi": "x",
            "name_en": "x",
            "duration_minutes": 30,
            "price": 1,
        },
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "service_exists"
    bad_key = await api.call(
        "POST",
        "/services",
        Role.SUPERVISOR,
        json={
            "key": "Not A Key",
            "name_vi": "x",
            "name_en": "x",
            "duration_minutes": 30,
            "price": 1,
        },
    )
    assert bad_key.status_code == 422
    patched = await api.call(
        "PATCH",
        f"/services/{consult['id']}",
        Role.SUPERVISOR,
        json={"price": 350_000, "buffer_minutes": 10, "aliases": ["kham da", "khám da"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == 350_000 and patched.json()["buffer_minutes"] == 10
    off = await api.call(
        "PATCH", f"/services/{made['sauna']['id']}", Role.SUPERVISOR, json={"active": False}
    )
    assert off.json()["active"] is False
    keys = [s["key"] for s in (await api.call("GET", "/services", Role.AGENT)).json()["items"]]
    assert keys == ["consult"]
    assert (await api.call("PATCH", "/services/nope", json={"price": 1})).status_code == 404

    unknown = await api.call("POST", "/staff", json={"name": "X", "services": ["massage"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_service"
    bad_hours = await api.call("POST", "/staff", json={"name": "X", "hours": "weekdays 9-5"})
    assert bad_hours.status_code == 422 and bad_hours.json()["error"]["code"] == "invalid_hours"
    doctor = made["doctor"]
    renamed = await api.call("PATCH", f"/staff/{doctor['id']}", json={"name": "BS. Thu Hà"})
    assert renamed.json()["name"] == "BS. Thu Hà" and renamed.json()["services"] == ["consult"]
    listed = (await api.call("GET", "/staff", Role.AGENT)).json()["items"]
    assert [m["name"] for m in listed] == ["BS. Thu Hà"]


async def test_availability_holidays_and_time_off(api: Api) -> None:
    made = await catalogue(api)
    day = next_tuesday()
    free = await api.call(
        "GET", "/availability", Role.AGENT, params={"service": "consult", "date": day.isoformat()}
    )
    assert free.status_code == 200, free.text
    body = free.json()
    assert body["timezone"] == "Asia/Ho_Chi_Minh" and body["date"] == day.isoformat()
    starts = [item["starts_at"] for item in body["items"]]
    assert starts[0] == local(day, 9) and starts[0].endswith("+07:00")
    assert starts[-1] == local(day, 16, 30) and len(starts) == 31
    assert body["items"][0]["staff_name"] == "BS. Hà"

    doctor = made["doctor"]["id"]
    blocked = await api.call(
        "POST",
        f"/staff/{doctor}/time-off",
        Role.SUPERVISOR,
        json={"starts_at": local(day, 9), "ends_at": local(day, 12), "reason": "conference"},
    )
    assert blocked.status_code == 201, blocked.text
    free = await api.call(
        "GET", "/availability", params={"service": "consult", "date": day.isoformat()}
    )
    assert free.json()["items"][0]["starts_at"] == local(day, 12)
    shown = (await api.call("GET", f"/staff/{doctor}", Role.AGENT)).json()
    assert [o["reason"] for o in shown["time_off"]] == ["conference"]
    backwards = await api.call(
        "POST",
        f"/staff/{doctor}/time-off",
        json={"starts_at": local(day, 12), "ends_at": local(day, 9)},
    )
    assert backwards.status_code == 422

    holiday = await api.call(
        "POST", "/holidays", Role.SUPERVISOR, json={"day": day.isoformat(), "name": "Closed"}
    )
    assert holiday.status_code == 201, holiday.text
    twice = await api.call("POST", "/holidays", json={"day": day.isoformat(), "name": "Again"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "holiday_exists"
    listed = (await api.call("GET", "/holidays", Role.AGENT)).json()["items"]
    assert listed == [{"id": holiday.json()["id"], "day": day.isoformat(), "name": "Closed"}]
    closed = await api.call(
        "GET", "/availability", params={"service": "consult", "date": day.isoformat()}
    )
    assert closed.json()["items"] == []
    gone = await api.call("DELETE", f"/holidays/{holiday.json()['id']}", Role.SUPERVISOR)
    assert gone.status_code == 204
    assert (await api.call("DELETE", f"/holidays/{holiday.json()['id']}")).status_code == 404

    unknown = await api.call(
        "GET", "/availability", params={"service": "nope", "date": day.isoformat()}
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_service"
    bad_date = await api.call(
        "GET", "/availability", params={"service": "consult", "date": "tomorrow"}
    )
    assert bad_date.status_code == 422


async def test_book_conflict_reschedule_cancel(api: Api) -> None:
    made = await catalogue(api)
    lan, minh = await customer(api, "Lan"), await customer(api, "Minh")
    day = next_tuesday()
    created = await api.call(
        "POST",
        "/appointments",
        Role.AGENT,
        json={
            "customer_id": lan,
            "service": "consult",
            "starts_at": local(day, 10),
            "notes": "first visit",
        },
    )
    assert created.status_code == 201, created.text
    appt = created.json()
    assert appt["service"] == "consult" and appt["service_name_vi"] == "Tư vấn da liễu"
    assert appt["service_name_en"] == "Skin consultation"
    assert appt["staff_id"] == made["doctor"]["id"] and appt["staff_name"] == "BS. Hà"
    assert appt["starts_at_local"] == local(day, 10)
    assert datetime.fromisoformat(appt["starts_at"]).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(appt["starts_at"]) == datetime.fromisoformat(local(day, 10))
    assert appt["ends_at_local"] == local(day, 10, 30) and appt["status"] == "booked"
    assert {"id", "customer_id", "conversation_id", "channel", "created_at"} <= set(appt)

    taken = await api.call(
        "POST",
        "/appointments",
        json={"customer_id": minh, "service": "consult", "starts_at": local(day, 10, 15)},
    )
    assert taken.status_code == 409
    error = taken.json()["error"]
    assert error["code"] == "slot_taken" and local(day, 9, 30) in error["message"]
    assert [a["starts_at"] for a in error["alternatives"]] == [
        local(day, 9, 30),
        local(day, 10, 30),
        local(day, 10, 45),
    ]

    for starts_at, reason in ((local(day, 8), "outside_hours"), (local(day, 10, 5), "off_grid")):
        refused = await api.call(
            "POST",
            "/appointments",
            json={"customer_id": minh, "service": "consult", "starts_at": starts_at},
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "not_bookable"
        assert refused.json()["error"]["reason"] == reason
    for body, code in (
        ({"customer_id": minh, "service": "nope", "starts_at": local(day, 11)}, "unknown_service"),
        (
            {"customer_id": "nobody", "service": "consult", "starts_at": local(day, 11)},
            "unknown_customer",
        ),
        (
            {"customer_id": minh, "service": "consult", "starts_at": f"{day}T11:00:00"},
            "validation_error",
        ),  # no offset: ambiguous
    ):
        refused = await api.call("POST", "/appointments", json=body)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == code

    other = await api.call(
        "POST",
        "/appointments",
        json={"customer_id": minh, "service": "consult", "starts_at": local(day, 14)},
    )
    assert other.status_code == 201
    clash = await api.call(
        "PATCH", f"/appointments/{appt['id']}", Role.AGENT, json={"starts_at": local(day, 14)}
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "slot_taken"
    still = (await api.call("GET", f"/appointments/{appt['id']}", Role.AGENT)).json()
    assert still["starts_at_local"] == local(day, 10) and still["status"] == "booked"

    moved = await api.call(
        "PATCH", f"/appointments/{appt['id']}", json={"starts_at": local(day, 15)}
    )
    assert moved.status_code == 200 and moved.json()["starts_at_local"] == local(day, 15)
    retry = await api.call(
        "POST",
        "/appointments",
        json={"customer_id": minh, "service": "consult", "starts_at": local(day, 10)},
    )
    assert retry.status_code == 201  # the old time was released

    both = await api.call(
        "PATCH",
        f"/appointments/{appt['id']}",
        json={"starts_at": local(day, 16), "status": "cancelled"},
    )
    assert both.status_code == 422
    cancelled = await api.call(
        "PATCH", f"/appointments/{appt['id']}", json={"status": "cancelled", "reason": "busy"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    rebooked = await api.call(
        "POST",
        "/appointments",
        json={"customer_id": minh, "service": "consult", "starts_at": local(day, 15)},
    )
    assert rebooked.status_code == 201
    late = await api.call("PATCH", f"/appointments/{appt['id']}", json={"status": "completed"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "conflict"
    done = await api.call(
        "PATCH", f"/appointments/{rebooked.json()['id']}", json={"status": "no_show"}
    )
    assert done.json()["status"] == "no_show"
    missing = await api.call("PATCH", "/appointments/nope", json={"status": "cancelled"})
    assert missing.status_code == 404
    assert (await api.call("GET", "/appointments/nope")).status_code == 404


async def test_list_appointments_by_customer_status_and_time(api: Api) -> None:
    await catalogue(api)
    lan, minh = await customer(api, "Lan"), await customer(api, "Minh")
    day = next_tuesday()
    ids = []
    for who, hour in ((lan, 9), (lan, 11), (minh, 13)):
        made = await api.call(
            "POST",
            "/appointments",
            json={"customer_id": who, "service": "sauna", "starts_at": local(day, hour)},
        )
        assert made.status_code == 201, made.text
        assert made.json()["staff_id"] is None  # a seat, not a person
        ids.append(made.json()["id"])
    await api.call("PATCH", f"/appointments/{ids[0]}", json={"status": "cancelled"})

    async def listed(**params: str) -> list[str]:
        response = await api.call("GET", "/appointments", Role.AGENT, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed(customer_id=lan) == [ids[1], ids[0]]  # newest first
    assert await listed(customer_id=lan, status="booked") == [ids[1]]
    assert await listed(**{"from": local(day, 10), "to": local(day, 14)}) == [ids[2], ids[1]]
    page = await api.call("GET", "/appointments", params={"limit": 2})
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = await api.call(
        "GET", "/appointments", params={"limit": 2, "cursor": page.json()["next_cursor"]}
    )
    assert [i["id"] for i in rest.json()["items"]] == [ids[0]]
    assert (await api.call("GET", "/appointments", params={"status": "lost"})).status_code == 422
