"""IMAP polling: fetch mail newer than a durable UID cursor, hand it on, then move the cursor."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import aioimaplib  # type: ignore[import-untyped]

from channels.base import InboundEvent, ParsedWebhook, StatusUpdate, WebhookRejected
from crm_core.channel_state import ChannelStateStore

log = logging.getLogger(__name__)

STATE_KEY = "imap"
BATCH = 100  # mails per poll: a first poll of a full mailbox moves through it in steps
TIMEOUT_S = 30.0
BACKOFF_CAP_S = 300.0
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)


class ImapError(Exception):
    """The server answered NO/BAD, or with something we cannot read."""


class MailParser(Protocol):
    """The part of EmailAdapter that poll_into needs."""

    def parse(self, body: bytes) -> ParsedWebhook: ...


class ImapPoller:
    """One mailbox folder; each poll is a short session (connect, read, log out)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        ssl: bool,
        folder: str,
        state: ChannelStateStore,
        batch: int = BATCH,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self.ssl = ssl
        self.folder = folder
        self.state = state
        self.batch = batch
        self.timeout_s = timeout_s
        self._seen_validity: int | None = None

    async def poll_once(self) -> list[tuple[int, bytes]]:
        """(uid, raw message) newer than the cursor, oldest first; the cursor is not moved.

        Mails are marked \\Seen for people sharing the mailbox; the cursor, not the flag,
        decides what is new, so a crash before `commit` only means fetching them again
        (the inbox dedupes on Message-ID).
        """
        client = await self._connect()
        try:
            validity = await self._select(client)
            last_uid = await self._cursor(validity)
            uids = (await self._new_uids(client, last_uid))[: self.batch]
            mails = await self._fetch(client, uids) if uids else []
            if mails:
                await _ok(client.uid("store", _uid_set(uids), "+FLAGS", "(\\Seen)"), "STORE")
        finally:
            await _logout(client)
        self._seen_validity = validity
        if mails:
            log.info("imap poll: %d new mail(s) after uid %d", len(mails), last_uid)
        return mails

    async def commit(self, last_uid: int) -> None:
        """Move the cursor once the mails up to `last_uid` are safely stored."""
        if self._seen_validity is None:
            raise RuntimeError("commit() before poll_once()")
        await self.state.set(STATE_KEY, {"uidvalidity": self._seen_validity, "last_uid": last_uid})

    async def run(
        self, interval_s: float, deliver: Callable[[list[bytes]], Awaitable[object]]
    ) -> None:
        """Poll forever: deliver, commit, sleep; connection errors back off up to 5 minutes."""
        failures = 0
        while True:
            try:
                mails = await self.poll_once()
                if mails:
                    await deliver([raw for _, raw in mails])
                    await self.commit(mails[-1][0])
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("imap poll failed (%s), attempt %d", type(exc).__name__, failures)
            delay = interval_s if failures == 0 else min(BACKOFF_CAP_S, interval_s * 2**failures)
            await asyncio.sleep(delay)

    async def _connect(self) -> aioimaplib.IMAP4:
        if self.ssl:
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                host=self.host, port=self.port, timeout=self.timeout_s
            )
        else:
            client = aioimaplib.IMAP4(host=self.host, port=self.port, timeout=self.timeout_s)
        await client.wait_hello_from_server()
        # RFC 3501 §6.2.3: LOGIN takes astrings; quote the user name too (aioimaplib does not).
        await _ok(client.login(aioimaplib.quoted(self._username), self._password), "LOGIN")
        return client

    async def _select(self, client: aioimaplib.IMAP4) -> int:
        response = await _ok(client.select(aioimaplib.quoted(self.folder)), "SELECT")
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (match := _UIDVALIDITY.search(line)):
                return int(match.group(1))
        raise ImapError("SELECT answered without UIDVALIDITY")

    async def _cursor(self, validity: int) -> int:
        """The last stored UID; 0 when there is none or the folder's UIDVALIDITY changed."""
        saved = await self.state.get(STATE_KEY) or {}
        if saved.get("uidvalidity") == validity:
            return int(saved.get("last_uid", 0))
        if saved:
            # RFC 3501 §2.3.1.1: a new UIDVALIDITY means old UIDs are meaningless; start over.
            log.warning("imap uidvalidity changed to %d: reading the folder again", validity)
        return 0

    async def _new_uids(self, client: aioimaplib.IMAP4, last_uid: int) -> list[int]:
        response = await _ok(client.uid_search(f"UID {last_uid + 1}:*", charset=None), "SEARCH")
        uids: set[int] = set()
        for line in response.lines[:-1]:  # the last line is the tagged completion text
            uids.update(int(token) for token in bytes(line).split() if token.isdigit())
        # RFC 3501 §6.4.8: "n:*" always includes the highest UID, even when it is below n.
        return sorted(uid for uid in uids if uid > last_uid)

    async def _fetch(self, client: aioimaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
        # BODY.PEEK[] leaves \Seen alone; we set it ourselves after a complete fetch.
        response = await _ok(client.uid("fetch", _uid_set(uids), "(UID BODY.PEEK[])"), "FETCH")
        return sorted(_fetched_messages(response.lines))


def _fetched_messages(lines: Sequence[Any]) -> list[tuple[int, bytes]]:
    """Pair each literal with the UID on its line (before it, or after it on some servers)."""
    found: list[tuple[int, bytes]] = []
    for index, line in enumerate(lines):
        if not isinstance(line, bytearray):
            continue
        around = [lines[index - 1] if index else b"", *lines[index + 1 : index + 2]]
        for text in around:
            if isinstance(text, bytes) and (match := _UID.search(text)):
                found.append((int(match.group(1)), bytes(line)))
                break
    return found


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(uid) for uid in uids)


async def _ok(call: Awaitable[Any], what: str) -> Any:
    response = await call
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result}")
    return response


async def _logout(client: aioimaplib.IMAP4) -> None:
    try:
        await client.logout()
    except Exception as exc:  # the session is over either way
        log.debug("imap logout failed: %s", type(exc).__name__)


async def deliver_mails(
    raws: Sequence[bytes],
    *,
    adapter: MailParser,
    receive: Callable[[list[InboundEvent]], Awaitable[object]],
    statuses: Callable[[list[StatusUpdate]], Awaitable[object]] | None = None,
) -> int:
    """Parse and hand on; a mail that cannot be parsed is skipped (it would block the cursor).

    `statuses` gets the delivery failures that bounces report about our own replies.
    """
    events: list[InboundEvent] = []
    updates: list[StatusUpdate] = []
    for index, raw in enumerate(raws):
        try:
            parsed = adapter.parse(raw)
        except WebhookRejected as exc:
            log.warning("skipping unparseable mail %d of %d: %s", index + 1, len(raws), exc.code)
            continue
        events.extend(parsed.events)
        updates.extend(parsed.statuses)
    if updates and statuses is not None:
        await statuses(updates)
    if events:
        await receive(events)
    return len(events)


async def poll_into(
    poller: ImapPoller,
    adapter: MailParser,
    receive: Callable[[list[InboundEvent]], Awaitable[object]],
    *,
    statuses: Callable[[list[StatusUpdate]], Awaitable[object]] | None = None,
) -> int:
    """One poll: fetch, parse, store through `receive`, then commit; returns events handed on."""
    mails = await poller.poll_once()
    if not mails:
        return 0
    raws = [raw for _, raw in mails]
    count = await deliver_mails(raws, adapter=adapter, receive=receive, statuses=statuses)
    await poller.commit(mails[-1][0])
    return count
