"""Data-subject export and erasure: the export holds everything; after the erasure nothing
personal is left anywhere in the database, nothing queued is sent, and both are audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crm_core.erasure import erase_customer
from crm_core.erasure_scrub import Needles, scrub_data
from crm_core.models import AuditLog, Base, Customer, Identity, Message, TimelineEvent
from crm_core.privacy import ActorRef, CustomerNotFound, export_customer
from crm_core.types import utcnow
from tests.conftest import Harness
from tests.crm_core import privacy_seed as seed
from tests.fakes.telegram import FakeTelegram

ADMIN = ActorRef(kind="agent", id="admin-1")


async def _database_text(harness: Harness) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty value in every table, as text."""
    found = []
    async with harness.runtime.db.reading() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        text = value.decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    found.append((table.name, column, text))
    return found


def _leaks(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    needles = [n.casefold() for n in seed.PII]
    return [(t, c, v) for t, c, v in rows if any(n in v.casefold() for n in needles)]


async def test_export_holds_everything_about_the_person(harness: Harness) -> None:
    ids = await seed.seed(harness)
    async with harness.runtime.db.transaction() as session:
        document = await export_customer(session, ids.subject_id, actor=ADMIN)
    text = json.dumps(document, ensure_ascii=False)  # JSON-serialisable as it is
    for needle in (seed.NAME, seed.PHONE, seed.EMAIL, seed.SECRET, str(seed.SUBJECT_TG)):
        assert needle in text, needle
    assert document["customer"]["id"] == ids.subject_id
    assert {p["value"] for p in document["contact_points"]} == {seed.PHONE, seed.EMAIL}
    assert [i["external_id"] for i in document["identities"]] == [str(seed.SUBJECT_TG)]
    assert document["consent"][0]["status"] == "subscribed"
    [conversation] = document["conversations"]
    texts = [m["text"] for m in conversation["messages"]]
    assert any(seed.SECRET in t for t in texts) and seed.QUEUED_TEXT in texts
    assert document["tickets"][0]["description"] == f"Call back on {seed.PHONE} or {seed.EMAIL}"
    assert document["appointments"][0]["service"]["key"] == "privacy-facial"
    assert document["purchases"][0]["amount"] == 750000
    assert any(e["kind"] == "note" for e in document["timeline"])
    assert document["merges"][0]["source_snapshot"]["name"].startswith(seed.NAME)
    assert document["merge_suggestions"][0]["value"] == seed.EMAIL
    assert seed.BYSTANDER_TEXT not in text  # only this person's data
    async with harness.runtime.db.reading() as session:
        [entry] = (await session.scalars(select(AuditLog))).all()
    assert (entry.action, entry.object_id, entry.actor_id) == (
        "customer_export",
        ids.subject_id,
        "admin-1",
    )
    assert entry.data["counts"]["messages"] == len(texts)
    assert entry.data["counts"]["tickets"] == 1


async def test_erasure_leaves_no_personal_data_and_sends_nothing(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    ids = await seed.seed(harness)
    before = _leaks(await _database_text(harness))
    assert {table for table, _, _ in before} >= {
        "customers",
        "contact_points",
        "identities",
        "messages",
        "inbox_events",
        "tickets",
        "appointments",
        "purchases",
        "timeline_events",
        "qa_reviews",
        "nlu_corrections",
        "merge_suggestions",
        "customer_merges",
        "automation_runs",
    }  # the seed really put the person everywhere
    sent_before = len(fake_telegram.sent())

    async with harness.runtime.db.transaction() as session:
        result = await erase_customer(session, ids.subject_id, ADMIN)
    assert not result.already_erased
    assert result.counts["cancelled_outbound"] == 1
    assert result.counts["identities"] == 1 and result.counts["contact_points"] == 2

    assert _leaks(await _database_text(harness)) == []

    # The dispatcher, an hour later, sends the bystander's reply and not the erased one's.
    harness.runtime.dispatcher.clock = lambda: utcnow() + timedelta(hours=2)
    harness.runtime.dispatcher.wake()
    await harness.settle()
    texts = [payload["text"] for payload in fake_telegram.sent()[sent_before:]]
    assert texts == [seed.BYSTANDER_TEXT]
    async with harness.runtime.db.reading() as session:
        queued = await session.get(Message, ids.queued_id)
        assert queued is not None
        assert (queued.status, queued.error, queued.text) == ("failed", "customer erased", "")
        customer = await session.get(Customer, ids.subject_id)
        assert customer is not None and customer.erased_at is not None
        assert customer.name is None and customer.lifecycle_stage == "lead"
        identity = await session.scalar(
            select(Identity).where(Identity.customer_id == ids.subject_id)
        )
        assert identity is not None and identity.opted_out_at is not None
        assert identity.external_id == f"erased:{identity.id}"
        kinds = list(
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.customer_id == ids.subject_id)
            )
        )
        assert "customer_erased" in kinds and "note" in kinds  # the record of what happened
        bystander = await session.get(Customer, ids.bystander_id)
        assert bystander is not None and bystander.name == "Lan Nguyen"
        audit = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "customer_erase"))
        ).all()
    [entry] = audit
    assert (entry.object_type, entry.object_id, entry.actor_id) == (
        "customer",
        ids.subject_id,
        "admin-1",
    )
    assert entry.data["counts"]["messages"] >= 3


async def test_erasing_twice_says_already_erased(harness: Harness) -> None:
    ids = await seed.seed(harness)
    async with harness.runtime.db.transaction() as session:
        await erase_customer(session, ids.subject_id, ADMIN)
    async with harness.runtime.db.transaction() as session:
        again = await erase_customer(session, ids.subject_id, ADMIN)
        with pytest.raises(CustomerNotFound):
            await erase_customer(session, "no-such-customer", ADMIN)
    assert again.already_erased and again.counts == {}
    async with harness.runtime.db.reading() as session:
        actions = [
            (a.action, a.data)
            for a in await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
        ]
        erased_events = list(
            await session.scalars(
                select(TimelineEvent).where(TimelineEvent.kind == "customer_erased")
            )
        )
    assert [a for a, _ in actions] == ["customer_erase", "customer_erase"]
    assert actions[1][1] == {"already_erased": True}
    assert len(erased_events) == 1


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        ({"text": "call me", "actor_name": "Mai"}, {"actor_name": "Mai"}),
        ({"channel": "sms", "external_id": "+84903777888"}, {"channel": "sms"}),
        ({"ticket_id": "t1", "number": 12, "order_id": "A-1"}, {"ticket_id": "t1", "number": 12}),
        ({"reason": "Lan Nguyen asked"}, {}),  # a label holding the person's name goes too
        ({"customer_ids": ["a", "b"], "nested": {"name": "x"}}, {"customer_ids": ["a", "b"]}),
        (
            {"from": "bot", "to": "resolved", "score": 5},
            {"from": "bot", "to": "resolved", "score": 5},
        ),
    ],
)
def test_event_data_keeps_ids_numbers_and_labels_only(
    data: dict[str, Any], kept: dict[str, Any]
) -> None:
    assert scrub_data(data, Needles.of(["Lan Nguyen", "+84903777888", None])) == kept
