"""The IMAP poller against a local fake IMAP4rev1 server, with its cursor in a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from channels.base import InboundEvent, StatusUpdate
from channels.email import EmailAdapter
from channels.email_imap import ImapError, ImapPoller, poll_into
from crm_core.channel_state import ChannelStateStore
from crm_core.db import Database
from tests.fakes import mails
from tests.fakes.imap import FakeImap


@pytest.fixture
async def imap() -> AsyncIterator[FakeImap]:
    fake = await FakeImap().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def _poller(imap: FakeImap, db: Database, **overrides: object) -> ImapPoller:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": imap.port,
        "username": imap.username,
        "password": imap.password,
        "ssl": False,
        "folder": "INBOX",
        "state": ChannelStateStore(db, "email"),
    }
    options.update(overrides)
    return ImapPoller(**options)  # type: ignore[arg-type]


def _adapter() -> EmailAdapter:
    return EmailAdapter(
        webhook_secret=None,
        smtp_host="127.0.0.1",
        smtp_port=2525,
        smtp_username=None,
        smtp_password=None,
        smtp_starttls=False,
        email_from=mails.SUPPORT,
    )


async def test_first_poll_returns_all_then_only_new_mail(imap: FakeImap, db: Database) -> None:
    raws = [mails.vietnamese_qp(), mails.html_only()]
    uids = [imap.add(raw) for raw in raws]
    poller = _poller(imap, db)

    first = await poller.poll_once()
    assert first == list(zip(uids, raws, strict=True))
    assert imap.seen() == uids
    assert any("BODY.PEEK[]" in command for command in imap.commands)

    # Not committed (a crash before storing): the same mail comes again.
    assert await poller.poll_once() == first
    await poller.commit(first[-1][0])

    assert await poller.poll_once() == []
    # RFC 3501: "3:*" still names UID 2 when 2 is the highest; the poller must not return it.
    assert imap.commands[-2] == "UID SEARCH UID 3:*"

    newest = imap.add(mails.gmail_reply())
    assert await poller.poll_once() == [(newest, mails.gmail_reply())]


async def test_cursor_is_durable_across_pollers(
    imap: FakeImap, db: Database, database_url: str
) -> None:
    imap.add(mails.vietnamese_qp())
    imap.add(mails.html_only())
    poller = _poller(imap, db)
    fetched = await poller.poll_once()
    await poller.commit(fetched[-1][0])

    other = Database(database_url)
    try:
        store = ChannelStateStore(other, "email")
        assert await store.get("imap") == {"uidvalidity": imap.uidvalidity, "last_uid": 2}
        assert await _poller(imap, other, state=store).poll_once() == []
    finally:
        await other.dispose()


async def test_uidvalidity_change_resets_the_cursor(imap: FakeImap, db: Database) -> None:
    imap.add(mails.vietnamese_qp())
    imap.add(mails.html_only())
    poller = _poller(imap, db)
    await poller.commit((await poller.poll_once())[-1][0])

    imap.renumber(uidvalidity=1_800_000_000)
    imap.add(mails.gmail_reply())
    again = await poller.poll_once()
    assert [uid for uid, _ in again] == [1, 2, 3]
    await poller.commit(again[-1][0])
    saved = await ChannelStateStore(db, "email").get("imap")
    assert saved == {"uidvalidity": 1_800_000_000, "last_uid": 3}


async def test_a_full_mailbox_is_read_in_batches(imap: FakeImap, db: Database) -> None:
    for index in range(5):
        imap.add(mails.plain(f"mail {index}", message_id=f"b{index}@example.vn"))
    poller = _poller(imap, db, batch=2)
    seen: list[int] = []
    for _ in range(4):  # bounded: a poller that repeats itself must fail, not hang
        batch = await poller.poll_once()
        assert len(batch) <= 2
        seen += [uid for uid, _ in batch]
        if batch:
            await poller.commit(batch[-1][0])
    assert seen == [1, 2, 3, 4, 5]


async def test_poll_into_parses_stores_and_commits(imap: FakeImap, db: Database) -> None:
    imap.add(mails.vietnamese_qp())
    imap.add(b"\x00\x01 not a mail \xff")  # skipped, but must not block the cursor
    imap.add(mails.from_ourselves())  # our own copy: ignored
    imap.add(mails.auto_reply())  # stored; the engine will not answer it
    imap.add(mails.bounce(original_id="omnicrm-m9@omnispa.example"))  # stored + a status
    received: list[list[InboundEvent]] = []
    failures: list[StatusUpdate] = []

    async def receive(events: list[InboundEvent]) -> None:
        received.append(events)

    async def statuses(updates: list[StatusUpdate]) -> None:
        failures.extend(updates)

    poller = _poller(imap, db)
    assert await poll_into(poller, _adapter(), receive, statuses=statuses) == 3
    [events] = received
    assert [e.external_message_id for e in events] == [
        "CAF7u1Qp2vXk3r@mail.gmail.com",
        "oof-4455@example.vn",
        "20261121032000.B1C2D3E4@mx.omnispa.example",
    ]
    assert [e.automated for e in events] == [None, "auto-reply", "bounce"]
    assert [(s.external_message_id, s.status) for s in failures] == [
        ("omnicrm-m9@omnispa.example", "failed")
    ]
    assert await ChannelStateStore(db, "email").get("imap") == {
        "uidvalidity": imap.uidvalidity,
        "last_uid": 5,
    }
    assert await poll_into(poller, _adapter(), receive) == 0
    assert len(received) == 1


async def test_cursor_stays_when_storing_fails(imap: FakeImap, db: Database) -> None:
    imap.add(mails.vietnamese_qp())

    async def broken(events: list[InboundEvent]) -> None:
        raise RuntimeError("database down")

    poller = _poller(imap, db)
    with pytest.raises(RuntimeError):
        await poll_into(poller, _adapter(), broken)
    assert await ChannelStateStore(db, "email").get("imap") is None
    stored: list[InboundEvent] = []

    async def working(events: list[InboundEvent]) -> None:
        stored.extend(events)

    assert await poll_into(poller, _adapter(), working) == 1
    assert stored[0].external_message_id == "CAF7u1Qp2vXk3r@mail.gmail.com"


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until it stops: on 3.11 a library's wait_for can swallow one cancellation."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    assert task.cancelled() or task.exception() is None


async def test_run_survives_connection_errors(imap: FakeImap, db: Database) -> None:
    imap.drop_connections = 1  # the server hangs up before its greeting
    imap.add(mails.vietnamese_qp())
    delivered: list[list[bytes]] = []
    store = ChannelStateStore(db, "email")

    async def deliver(raws: list[bytes]) -> None:
        delivered.append(raws)

    poller = _poller(imap, db, timeout_s=0.5)
    task = asyncio.create_task(poller.run(0.01, deliver))
    try:
        async with asyncio.timeout(10):
            while await store.get("imap") is None:  # noqa: ASYNC110 - a database row
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # more polls: nothing is delivered twice
    finally:
        await _stop(task)
    assert delivered == [[mails.vietnamese_qp()]]
    assert imap.drop_connections == 0
    assert await store.get("imap") == {"uidvalidity": imap.uidvalidity, "last_uid": 1}


async def test_wrong_password_or_folder_is_an_error(imap: FakeImap, db: Database) -> None:
    with pytest.raises(ImapError, match="LOGIN"):
        await _poller(imap, db, password="wrong").poll_once()
    with pytest.raises(ImapError, match="SELECT"):
        await _poller(imap, db, folder="Archive").poll_once()
    with pytest.raises(RuntimeError):
        await _poller(imap, db).commit(1)
