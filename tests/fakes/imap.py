"""A small IMAP4rev1 server (RFC 3501) on 127.0.0.1, one folder, plain TCP, for the poller."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\((?:[^()]|\([^()]*\))*\))|(\S+)')


@dataclass
class FakeMail:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class FakeImap:
    """Serves one folder; tests add mail, renumber it (new UIDVALIDITY) and read the log."""

    username: str = "support@omnispa.example"
    password: str = "imap-pass"  # noqa: S105 - a test fixture
    folder: str = "INBOX"
    uidvalidity: int = 1_700_000_001
    mails: list[FakeMail] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # "LOGIN", "UID FETCH 1,2 (...)", ...
    drop_connections: int = 0  # close this many connections right after accepting them
    port: int = 0
    _next_uid: int = 1
    _server: asyncio.Server | None = None

    async def start(self) -> FakeImap:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def add(self, raw: bytes) -> int:
        """Deliver a mail into the folder; its UID is the next one up (RFC 3501 §2.3.1.1)."""
        uid = self._next_uid
        self._next_uid += 1
        self.mails.append(FakeMail(uid, raw))
        return uid

    def renumber(self, uidvalidity: int) -> None:
        """What a server does after rebuilding the folder: new UIDVALIDITY, UIDs from 1 again."""
        self.uidvalidity = uidvalidity
        for index, mail in enumerate(self.mails, start=1):
            mail.uid = index
        self._next_uid = len(self.mails) + 1

    def seen(self) -> list[int]:
        return [mail.uid for mail in self.mails if "\\Seen" in mail.flags]

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.drop_connections > 0:
            self.drop_connections -= 1
            writer.close()
            return
        session = _Session(self, writer)
        writer.write(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] fake IMAP ready\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while not writer.is_closing():
                line = await reader.readline()
                if not line:
                    break
                await session.handle(line.rstrip(b"\r\n"))
        writer.close()


class _Session:
    """One client connection: its state (authenticated, selected) and the command handlers."""

    def __init__(self, server: FakeImap, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.authenticated = False
        self.selected = False

    def send(self, data: bytes) -> None:
        self.writer.write(data + b"\r\n")

    async def handle(self, line: bytes) -> None:
        tag, _, rest = line.partition(b" ")
        tokens = _tokens(rest)
        if not tokens:
            self.send(tag + b" BAD empty command")
            return
        name = tokens[0].upper()
        args = tokens[1:]
        if name == b"UID" and args:
            name, args = b"UID " + args[0].upper(), args[1:]
        self.server.commands.append(name.decode() if name == b"LOGIN" else rest.decode())
        handler = _HANDLERS.get(name)
        if handler is None:
            self.send(tag + b" BAD unknown command")
        else:
            handler(self, tag, args)
        await self.writer.drain()

    def capability(self, tag: bytes, args: list[bytes]) -> None:
        self.send(b"* CAPABILITY IMAP4rev1 UIDPLUS")
        self.send(tag + b" OK CAPABILITY completed")

    def noop(self, tag: bytes, args: list[bytes]) -> None:
        self.send(tag + b" OK NOOP completed")

    def login(self, tag: bytes, args: list[bytes]) -> None:
        creds = (self.server.username.encode(), self.server.password.encode())
        if len(args) == 2 and (args[0], args[1]) == creds:
            self.authenticated = True
            self.send(tag + b" OK LOGIN completed")
        else:
            self.send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")

    def select(self, tag: bytes, args: list[bytes]) -> None:
        server = self.server
        if not self.authenticated or not args or args[0].decode() != server.folder:
            self.send(tag + b" NO no such mailbox")
            return
        self.selected = True
        self.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.send(b"* %d EXISTS" % len(server.mails))
        self.send(b"* 0 RECENT")
        self.send(b"* OK [UIDVALIDITY %d] UIDs valid" % server.uidvalidity)
        self.send(b"* OK [UIDNEXT %d] Predicted next UID" % server._next_uid)
        self.send(tag + b" OK [READ-WRITE] SELECT completed")

    def uid_search(self, tag: bytes, args: list[bytes]) -> None:
        if args[:1] and args[0].upper() == b"CHARSET":
            args = args[2:]
        mails = self.server.mails
        if args[:1] and args[0].upper() == b"UID" and len(args) > 1:
            wanted = _sequence(args[1], highest=max((m.uid for m in mails), default=0))
            mails = [m for m in mails if m.uid in wanted]
        elif args[:1] and args[0].upper() == b"UNSEEN":
            mails = [m for m in mails if "\\Seen" not in m.flags]
        self.send(b"* SEARCH" + b"".join(b" %d" % m.uid for m in mails))
        self.send(tag + b" OK SEARCH completed")

    def uid_fetch(self, tag: bytes, args: list[bytes]) -> None:
        items = args[1].upper() if len(args) > 1 else b""
        section = b"RFC822" if b"RFC822" in items else b"BODY[]"
        for seq, mail in self._matching(args):
            if b"PEEK" not in items:
                mail.flags.add("\\Seen")  # RFC 3501 §6.4.5: fetching BODY[] sets \Seen
            head = b"* %d FETCH (UID %d %s {%d}" % (seq, mail.uid, section, len(mail.raw))
            self.send(head + b"\r\n" + mail.raw + b")")
        self.send(tag + b" OK FETCH completed")

    def uid_store(self, tag: bytes, args: list[bytes]) -> None:
        flags = {f.decode() for f in _tokens(args[2].strip(b"()"))} if len(args) > 2 else set()
        for seq, mail in self._matching(args):
            mail.flags |= flags
            if not args[1].upper().endswith(b".SILENT"):
                self.send(b"* %d FETCH (UID %d FLAGS (%s))" % (seq, mail.uid, _flags(mail)))
        self.send(tag + b" OK STORE completed")

    def logout(self, tag: bytes, args: list[bytes]) -> None:
        self.send(b"* BYE fake IMAP logging out")
        self.send(tag + b" OK LOGOUT completed")
        self.writer.close()

    def _matching(self, args: list[bytes]) -> list[tuple[int, FakeMail]]:
        mails = self.server.mails
        wanted = _sequence(args[0], highest=max((m.uid for m in mails), default=0))
        return [(seq, m) for seq, m in enumerate(mails, start=1) if m.uid in wanted]


_HANDLERS = {
    b"CAPABILITY": _Session.capability,
    b"NOOP": _Session.noop,
    b"LOGIN": _Session.login,
    b"SELECT": _Session.select,
    b"UID SEARCH": _Session.uid_search,
    b"UID FETCH": _Session.uid_fetch,
    b"UID STORE": _Session.uid_store,
    b"LOGOUT": _Session.logout,
}


def _tokens(data: bytes) -> list[bytes]:
    """Atoms, quoted strings (unescaped) and parenthesised lists, as RFC 3501 §4 writes them."""
    tokens: list[bytes] = []
    for quoted, listed, atom in _TOKEN.findall(data):
        if atom:
            tokens.append(atom)
        elif listed:
            tokens.append(listed)
        else:
            tokens.append(re.sub(rb"\\(.)", rb"\1", quoted))
    return tokens


def _sequence(spec: bytes, *, highest: int) -> set[int]:
    """RFC 3501 §9 sequence-set; '*' is the highest UID, so 'n:*' always contains it."""
    numbers: set[int] = set()
    for part in spec.decode().split(","):
        first, _, last = part.partition(":")
        low = highest if first == "*" else int(first)
        high = low if not last else highest if last == "*" else int(last)
        numbers.update(range(min(low, high), max(low, high) + 1))
    return numbers


def _flags(mail: FakeMail) -> bytes:
    return " ".join(sorted(mail.flags)).encode()
