"""Merging customers by hand, undoing it, and suggestions from unverified matches."""

from __future__ import annotations

from typing import Any

from crm_core.enums import Role
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _customer(harness: Harness, telegram_id: int) -> dict[str, Any]:
    found = await harness.get("/api/v1/customers", identity=f"telegram:{telegram_id}")
    [customer] = found.json()["items"]
    return customer


async def _post(harness: Harness, path: str, body: Any = None, role: Role = Role.SUPERVISOR):
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.post(path, json=body, headers=headers)


async def test_merge_then_unmerge_restores_both_customers(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(120001, "xin chào", user_id=4200000401))
    await harness.telegram(updates.text_update(120002, "hello", user_id=4200000402, first="Bo"))
    await harness.settle()
    first = await _customer(harness, 4200000401)
    second = await _customer(harness, 4200000402)

    refused = await _post(
        harness,
        f"/api/v1/customers/{first['id']}/merge",
        {"other_customer_id": second["id"]},
        role=Role.AGENT,
    )
    assert refused.status_code == 403
    merged = await _post(
        harness, f"/api/v1/customers/{first['id']}/merge", {"other_customer_id": second["id"]}
    )
    assert merged.status_code == 200, merged.text
    merge_id = merged.json()["id"]
    view = (await harness.get(f"/api/v1/customers/{first['id']}")).json()
    assert sorted(i["external_id"] for i in view["identities"]) == ["4200000401", "4200000402"]
    assert view["stats"]["messages_in"] == 2
    assert (await harness.get(f"/api/v1/customers/{second['id']}")).status_code == 404

    # A message on the merged identity after the merge goes back with it on unmerge.
    await harness.telegram(updates.text_update(120003, "cảm ơn", user_id=4200000402))
    await harness.settle()

    undone = await _post(harness, f"/api/v1/merges/{merge_id}/unmerge")
    assert undone.status_code == 200
    assert undone.json()["restored_customer_id"] == second["id"]
    again = await _post(harness, f"/api/v1/merges/{merge_id}/unmerge")
    assert again.status_code == 409

    first_view = (await harness.get(f"/api/v1/customers/{first['id']}")).json()
    second_view = (await harness.get(f"/api/v1/customers/{second['id']}")).json()
    assert [i["external_id"] for i in first_view["identities"]] == ["4200000401"]
    assert [i["external_id"] for i in second_view["identities"]] == ["4200000402"]
    assert first_view["stats"]["messages_in"] == 1
    assert second_view["stats"]["messages_in"] == 2
    assert second_view["name"] == "Bo Nguyen"
    timeline = (await harness.get(f"/api/v1/customers/{first['id']}/timeline")).json()["items"]
    kinds = [event["kind"] for event in timeline]
    assert "customers_merged" in kinds and "customers_unmerged" in kinds


async def test_merge_into_itself_is_refused(harness: Harness, fake_telegram: FakeTelegram) -> None:
    await harness.telegram(updates.text_update(120010, "hi", user_id=4200000410))
    await harness.settle()
    customer = await _customer(harness, 4200000410)
    response = await _post(
        harness, f"/api/v1/customers/{customer['id']}/merge", {"other_customer_id": customer["id"]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "merge_refused"


async def test_same_unverified_phone_on_two_customers_is_a_suggestion(harness: Harness) -> None:
    ids = []
    for name in ("Mai", "Mai N."):
        session = (await harness.client.post("/api/v1/webchat/sessions", json={})).json()
        response = await harness.client.post(
            f"/api/v1/webchat/sessions/{session['session_id']}/contact",
            json={"name": name, "phone": "0903 111 222"},
            headers={"X-Webchat-Token": session["token"]},
        )
        assert response.status_code == 200
        ids.append(session["customer_id"])
    suggestions = (await harness.get("/api/v1/merge-suggestions")).json()["items"]
    assert len(suggestions) == 1
    assert {suggestions[0]["customer_id"], suggestions[0]["other_customer_id"]} == set(ids)
    assert suggestions[0]["value"] == "+84903111222"
    dismissed = await _post(harness, f"/api/v1/merge-suggestions/{suggestions[0]['id']}/dismiss")
    assert dismissed.status_code == 200
    assert (await harness.get("/api/v1/merge-suggestions")).json()["items"] == []
    customers = (await harness.get("/api/v1/customers")).json()["items"]
    assert len(customers) == 2  # nothing was joined without a human
