"""REST: data-subject export and erasure (admin only, confirmed, audited) and contact masking
for the agent role."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from crm_core import timeline
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.models import AuditLog, ContactPoint, Customer, Identity
from omnicrm.cli import app as cli_app
from tests.conftest import Harness, make_settings, running_app

PHONE = "+84903111222"
EMAIL = "mai.tran@example.com"


async def _customer(harness: Harness, name: str = "Mai Tran", phone: str = PHONE) -> str:
    async with harness.runtime.db.transaction() as session:
        customer = Customer(name=name)
        session.add(customer)
        await session.flush()
        session.add(
            ContactPoint(customer_id=customer.id, kind="phone", value=phone, verified=True)
        )
        session.add(ContactPoint(customer_id=customer.id, kind="email", value=EMAIL))
        session.add(Identity(customer_id=customer.id, channel="sms", external_id=phone))
        timeline.record(
            session,
            customer_id=customer.id,
            kind="identity_linked",
            actor_type="system",
            data={"channel": "sms", "external_id": phone},
        )
        return customer.id


async def _post(harness: Harness, path: str, body: Any, role: Role) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.post(path, json=body, headers=headers)


async def _audit(harness: Harness) -> list[AuditLog]:
    async with harness.runtime.db.reading() as session:
        return list(await session.scalars(select(AuditLog).order_by(AuditLog.created_at)))


async def test_only_admins_export_and_erase(harness: Harness) -> None:
    customer_id = await _customer(harness)
    for role in (Role.AGENT, Role.SUPERVISOR):
        export = await harness.get(f"/api/v1/customers/{customer_id}/export", role=role)
        assert export.status_code == 403, role
        erase = await _post(
            harness, f"/api/v1/customers/{customer_id}/erase", {"confirm": customer_id}, role
        )
        assert erase.status_code == 403, role
    assert await _audit(harness) == []
    view = await harness.get(f"/api/v1/customers/{customer_id}")
    assert view.json()["name"] == "Mai Tran"


async def test_admin_exports_a_json_download(harness: Harness) -> None:
    customer_id = await _customer(harness)
    response = await harness.get(f"/api/v1/customers/{customer_id}/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert f'filename="customer-{customer_id}.json"' in response.headers["content-disposition"]
    document = response.json()
    assert document["customer"]["name"] == "Mai Tran"
    assert sorted(p["value"] for p in document["contact_points"]) == [PHONE, EMAIL]
    [entry] = await _audit(harness)
    assert (entry.action, entry.actor_type, entry.object_id) == (
        "customer_export",
        "api_key",
        customer_id,
    )
    assert PHONE not in str(entry.data) and "Mai" not in str(entry.data)
    missing = await harness.get("/api/v1/customers/no-such-id/export")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_erasure_needs_the_id_typed_again(harness: Harness) -> None:
    customer_id = await _customer(harness)
    other_id = await _customer(harness, name="Hoa Le", phone="+84903999000")
    path = f"/api/v1/customers/{customer_id}/erase"
    assert (await _post(harness, path, None, Role.ADMIN)).status_code == 422
    wrong = await _post(harness, path, {"confirm": other_id}, Role.ADMIN)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "confirmation_mismatch"
    unknown = await _post(
        harness, "/api/v1/customers/nobody/erase", {"confirm": "nobody"}, Role.ADMIN
    )
    assert unknown.status_code == 404
    assert await _audit(harness) == []  # nothing happened yet

    done = await _post(harness, path, {"confirm": customer_id}, Role.ADMIN)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["already_erased"] is False and body["erased_at"]
    assert body["counts"]["contact_points"] == 2 and body["counts"]["identities"] == 1
    again = await _post(harness, path, {"confirm": customer_id}, Role.ADMIN)
    assert again.status_code == 200 and again.json()["already_erased"] is True

    view = (await harness.get(f"/api/v1/customers/{customer_id}")).json()
    assert view["name"] is None and view["phones"] == [] and view["emails"] == []
    assert view["erased_at"] and view["identities"][0]["external_id"].startswith("erased:")
    other = (await harness.get(f"/api/v1/customers/{other_id}")).json()
    assert other["name"] == "Hoa Le" and other["phones"] == ["+84903999000"]
    found = (await harness.get("/api/v1/customers", phone=PHONE)).json()["items"]
    assert found == []  # the erased phone finds nobody
    actions = [(a.action, a.object_id) for a in await _audit(harness)]
    assert actions == [("customer_erase", customer_id), ("customer_erase", customer_id)]


@pytest.mark.parametrize("masked", [True, False])
async def test_agents_see_masked_contacts_when_configured(database_url: str, masked: bool) -> None:
    settings = make_settings(database_url, mask_contacts=masked)
    async with running_app(settings) as harness:
        customer_id = await _customer(harness)
        # An agent can still search by the full number; the answer shows it masked.
        listed = await harness.get("/api/v1/customers", role=Role.AGENT, phone="0903 111 222")
        [item] = listed.json()["items"]
        view = (await harness.get(f"/api/v1/customers/{customer_id}", role=Role.AGENT)).json()
        boss = (await harness.get(f"/api/v1/customers/{customer_id}", role=Role.SUPERVISOR)).json()
        events = await harness.get(f"/api/v1/customers/{customer_id}/timeline", role=Role.AGENT)
    shown_phone = "+8490****222" if masked else PHONE
    shown_email = "m***@example.com" if masked else EMAIL
    for shown in (item, view):
        assert shown["phones"] == [shown_phone] and shown["emails"] == [shown_email]
        assert shown["identities"][0]["external_id"] == shown_phone
    assert sorted(p["value"] for p in view["contact_points"]) == sorted([shown_phone, shown_email])
    assert boss["phones"] == [PHONE] and boss["emails"] == [EMAIL]
    assert boss["identities"][0]["external_id"] == PHONE
    [linked] = events.json()["items"]
    assert linked["data"] == {"channel": "sms", "external_id": shown_phone}


async def test_cli_exports_and_erases(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OMNICRM_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            customer = Customer(name="Mai Tran")
            session.add(customer)
            await session.flush()
            session.add(ContactPoint(customer_id=customer.id, kind="phone", value=PHONE))
            customer_id = customer.id
        out = tmp_path / "mai.json"
        exported = await _cli(["customers", "export", customer_id, "--out", str(out)])
        assert exported.exit_code == 0, exported.output
        document = json.loads(out.read_text(encoding="utf-8"))
        assert document["contact_points"][0]["value"] == PHONE
        refused = await _cli(["customers", "erase", customer_id])
        assert refused.exit_code == 2 and "--yes" in refused.output
        erased = await _cli(["customers", "erase", customer_id, "--yes"])
        assert erased.exit_code == 0 and "contact_points 1" in erased.output
        again = await _cli(["customers", "erase", customer_id, "--yes"])
        assert again.exit_code == 0 and "already erased" in again.output
        unknown = await _cli(["customers", "erase", "nobody", "--yes"])
        assert unknown.exit_code == 2 and "no customer with id nobody" in unknown.output
        async with db.reading() as session:
            entries = [
                (a.action, a.actor_type)
                for a in await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
            ]
            row = await session.get(Customer, customer_id)
    finally:
        await db.dispose()
    assert entries == [("customer_export", "cli")] + [("customer_erase", "cli")] * 2
    assert row is not None and row.name is None and row.erased_at is not None


async def _cli(args: list[str]) -> Result:
    """In a thread: the commands call asyncio.run, which needs a loop of their own."""
    return await asyncio.to_thread(CliRunner().invoke, cli_app, args)
