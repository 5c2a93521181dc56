"""`GET /files/{id}`: signed, expiring download links; files in the web chat and on Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from channels.file_links import FileLinks
from crm_core import customers
from crm_core.conversations import add_outbound, open_or_continue
from crm_core.files import attachment_of, store_file
from omnicrm.api.files import file_links
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram

SECRET = "files-route-secret-key"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
async def app(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, fake_telegram.url, secret_key=SECRET)
    async with running_app(settings) as running:
        yield running


async def _store(harness: Harness, name: str, mime_type: str, data: bytes) -> dict[str, Any]:
    async with harness.runtime.db.transaction() as session:
        stored = store_file(session, name=name, mime_type=mime_type, data=data, max_bytes=10**6)
        return attachment_of(stored)


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"  # PUBLIC_URL
    return f"{parts.path}?{parts.query}"


def _links(harness: Harness) -> FileLinks:
    return file_links(harness.runtime.settings)


async def test_signed_link_downloads_the_file_inert(app: Harness) -> None:
    svg = await _store(app, "sơ đồ.svg", "image/svg+xml", SVG)
    file_id = svg["ref"].removeprefix("file:")
    path = _path(_links(app).url(file_id, now=datetime.now(UTC)))
    head = await app.client.head(path)  # some fetchers (Twilio) may look before they get
    assert head.status_code == 200 and head.headers["content-length"] == str(len(SVG))
    response = await app.client.get(path)
    assert response.status_code == 200
    assert response.content == SVG
    assert response.headers["content-type"] == "image/svg+xml"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''s%C6%A1%20%C4%91%E1%BB%93.svg" in disposition
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    cache = response.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert 6 * 86400 < int(cache.rsplit("=", 1)[1]) <= 7 * 86400 + 1


async def test_bad_missing_or_foreign_signatures_are_403(app: Harness) -> None:
    pdf = await _store(app, "a.pdf", "application/pdf", b"%PDF")
    file_id = pdf["ref"].removeprefix("file:")
    other = await _store(app, "b.pdf", "application/pdf", b"%PDF-other")
    good = _path(_links(app).url(file_id, now=datetime.now(UTC)))
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    moved = good.replace(file_id, other["ref"].removeprefix("file:"))  # a link reused elsewhere
    foreign = FileLinks.for_deployment(secret_key="another", public_url="http://testserver")
    for path in (
        flipped,
        moved,
        f"/files/{file_id}",
        f"/files/{file_id}?expires=abc&signature=00",
        _path(foreign.url(file_id, now=datetime.now(UTC))),
    ):
        response = await app.client.get(path)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "bad_signature"
        assert b"%PDF" not in response.content


async def test_expired_link_is_410_and_unknown_file_404(app: Harness) -> None:
    pdf = await _store(app, "a.pdf", "application/pdf", b"%PDF")
    file_id = pdf["ref"].removeprefix("file:")
    old = datetime.now(UTC) - timedelta(days=7, minutes=1)
    expired = await app.client.get(_path(_links(app).url(file_id, now=old)))
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "link_expired"
    unknown = await app.client.get(_path(_links(app).url("no-such-file", now=datetime.now(UTC))))
    assert unknown.status_code == 404


async def test_without_secret_key_links_hold_within_the_process(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    async with running_app(make_settings(database_url, fake_telegram.url)) as harness:
        pdf = await _store(harness, "a.pdf", "application/pdf", b"%PDF-x")
        file_id = pdf["ref"].removeprefix("file:")
        url = _links(harness).url(file_id, now=datetime.now(UTC))
        response = await harness.client.get(_path(url))
        assert response.status_code == 200 and response.content == b"%PDF-x"
        keyed = FileLinks.for_deployment(secret_key=SECRET, public_url="http://testserver")
        forged = await harness.client.get(_path(keyed.url(file_id, now=datetime.now(UTC))))
        assert forged.status_code == 403


async def test_webchat_visitor_sees_the_agents_file_with_a_working_link(app: Harness) -> None:
    started = await app.client.post("/api/v1/webchat/sessions", json={"name": "Lan"})
    session = started.json()
    token = {"X-Webchat-Token": session["token"]}
    pdf = await _store(app, "Báo giá.pdf", "application/pdf", b"%PDF-quote")
    async with app.runtime.db.transaction() as db_session:
        resolved = await customers.resolve_identity(
            db_session, channel="webchat", external_id=session["session_id"]
        )
        conversation, _ = await open_or_continue(
            db_session, customer_id=resolved.customer.id, identity=resolved.identity
        )
        add_outbound(
            db_session,
            conversation,
            text="Báo giá ạ",
            author_type="agent",
            author_name="Mai",
            attachments=[pdf],
        )
    app.runtime.dispatcher.wake()
    await app.settle()
    polled = await app.client.get(
        "/api/v1/webchat/messages", params={"session_id": session["session_id"]}, headers=token
    )
    assert polled.status_code == 200, polled.text
    (item,) = [m for m in polled.json()["items"] if m["attachments"]]
    (attachment,) = item["attachments"]
    assert (attachment["name"], attachment["mime_type"], attachment["size"]) == (
        "Báo giá.pdf",
        "application/pdf",
        len(b"%PDF-quote"),
    )
    download = await app.client.get(_path(attachment["url"]))
    assert download.status_code == 200 and download.content == b"%PDF-quote"


async def test_agent_reply_with_a_file_reaches_telegram_once(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    await app.telegram(updates.text_update(880001, "xin chào", user_id=4200000077))
    await app.settle()
    image = await _store(app, "ảnh.png", "image/png", b"\x89PNG-data")
    async with app.runtime.db.transaction() as db_session:
        resolved = await customers.resolve_identity(
            db_session, channel="telegram", external_id="4200000077"
        )
        conversation, _ = await open_or_continue(
            db_session, customer_id=resolved.customer.id, identity=resolved.identity
        )
        add_outbound(
            db_session, conversation, text="Ảnh đây ạ", author_type="agent", attachments=[image]
        )
    app.runtime.dispatcher.wake()
    await app.settle()
    ((method, payload),) = fake_telegram.uploads()
    assert method == "sendPhoto" and payload["caption"] == "Ảnh đây ạ"
    assert (payload["photo"].filename, payload["photo"].data) == ("ảnh.png", b"\x89PNG-data")
