"""Load generators: closed-loop ingest, closed-loop end to end, and open-loop at a fixed rate."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Every text is answered by the bot and none asks for a human, whatever came before: a handoff
# would silence the bot for that customer and its later messages would never get a reply.
# (An affirmative such as "ok" / "vâng" after the bot offered a human would do exactly that.)
VI_SCRIPT = (
    "Xin chào",
    "giờ mở cửa",
    "địa chỉ ở đâu vậy",
    "giá tư vấn bao nhiêu",
    "có chỗ đậu xe không",
    "thanh toán bằng thẻ được không",
    "làm sao để đặt lịch",
    "cảm ơn",
)
EN_SCRIPT = (
    "hi",
    "what are your opening hours",
    "how much is a consultation",
    "where are you located",
    "do you have parking",
    "what services do you offer",
    "how do I book",
    "thanks",
)
NAMES = (
    ("Lan", "Nguyễn", "vi"),
    ("Minh", "Trần", "vi"),
    ("Hoa", "Lê", "vi"),
    ("Tuấn", "Phạm", "vi"),
    ("Emma", "Smith", "en"),
    ("David", "Brown", "en"),
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Customer:
    """One Telegram user walking through a short conversation script, one message at a time."""

    chat_id: int
    first: str
    last: str
    language: str
    sent: int = 0

    def next_update(self, update_id: int) -> bytes:
        """The next Update of this customer's script as the JSON body Telegram would post."""
        script = VI_SCRIPT if self.language == "vi" else EN_SCRIPT
        text = script[self.sent % len(script)]
        self.sent += 1
        user = {
            "id": self.chat_id,
            "is_bot": False,
            "first_name": self.first,
            "last_name": self.last,
            "language_code": self.language,
        }
        update = {
            "update_id": update_id,
            "message": {
                "message_id": self.sent,
                "from": user,
                "chat": {"id": self.chat_id, "first_name": self.first, "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        return json.dumps(update, ensure_ascii=False).encode()


def make_customers(count: int, first_chat_id: int) -> list[Customer]:
    """`count` distinct customers, two in three of them Vietnamese-speaking."""
    return [Customer(first_chat_id + i, *NAMES[i % len(NAMES)]) for i in range(count)]


class ReplyBook:
    """Matches each reply to the oldest message in flight for its chat."""

    def __init__(self) -> None:
        self._waiting: dict[int, deque[asyncio.Future[float]]] = {}
        self.unmatched = 0

    def expect(self, chat_id: int) -> asyncio.Future[float]:
        """Register before posting: a reply can arrive before the webhook's 200 does."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(chat_id, deque()).append(future)
        return future

    def forget(self, chat_id: int, future: asyncio.Future[float]) -> None:
        queue = self._waiting.get(chat_id)
        if queue is not None and future in queue:
            queue.remove(future)
        future.cancel()

    def on_reply(self, chat_id: int, arrived: float) -> None:
        queue = self._waiting.get(chat_id)
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(arrived)
                return
        self.unmatched += 1  # a reply nobody waits for: sent twice, or after we gave up


class Poster:
    """Posts signed Telegram updates to the webhook over keep-alive loopback connections."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, secret: str) -> None:
        self.session = session
        self.url = f"{base_url}/webhooks/telegram"
        self.headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
        self._update_ids = itertools.count(700_000_000)
        self.accepted_bytes = 0  # raw payload of every update answered 200: the storage yardstick
        self.accepted = 0

    async def post(self, customer: Customer) -> int:
        """POST the customer's next message; the HTTP status, or 0 when the request failed."""
        body = customer.next_update(next(self._update_ids))
        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as response:
                await response.read()
                if response.status == 200:
                    self.accepted += 1
                    self.accepted_bytes += len(body)
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0


@dataclass
class PhaseResult:
    """Raw timings of one phase; the report turns them into rates and percentiles."""

    posted: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    ack_s: list[float] = field(default_factory=list)
    reply_s: list[float] = field(default_factory=list)
    reply_at: list[float] = field(default_factory=list)
    first_post: float | None = None
    last_ack: float | None = None
    last_reply: float | None = None
    timed_out: bool = False
    send_window_s: float | None = None
    max_send_lag_s: float = 0.0
    extra_customers: int = 0
    expects_replies: bool = True

    @property
    def acked(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def missing_replies(self) -> int:
        return self.acked - len(self.reply_s) if self.expects_replies else 0

    @property
    def send_rate(self) -> float | None:
        """Messages per second the schedule actually achieved (open loop)."""
        if self.send_window_s is None or self.posted < 2 or self.send_window_s <= 0:
            return None
        return (self.posted - 1) / self.send_window_s

    def started(self) -> float:
        now = time.perf_counter()
        if self.first_post is None:
            self.first_post = now
        self.posted += 1
        return now

    def acked_at(self, started: float, status: int) -> float:
        now = time.perf_counter()
        self.statuses[status] += 1
        if status == 200:
            self.ack_s.append(now - started)
            self.last_ack = now
        return now

    def replied_at(self, started: float, arrived: float) -> None:
        self.reply_s.append(arrived - started)
        self.reply_at.append(arrived)
        self.last_reply = arrived if self.last_reply is None else max(self.last_reply, arrived)


async def ingest_closed_loop(
    poster: Poster, customers: list[Customer], *, total: int, concurrency: int, timeout_s: float
) -> PhaseResult:
    """`concurrency` senders post back to back, each waiting only for the 200 (no worker runs)."""
    result = PhaseResult(expects_replies=False)
    numbers = iter(range(total))

    async def sender() -> None:
        for number in numbers:
            customer = customers[number % len(customers)]
            started = result.started()
            result.acked_at(started, await poster.post(customer))

    await _bounded(result, timeout_s, *(sender() for _ in range(concurrency)))
    return result


async def e2e_closed_loop(
    poster: Poster,
    book: ReplyBook,
    customers: list[Customer],
    *,
    total: int,
    concurrency: int,
    timeout_s: float,
) -> PhaseResult:
    """Each sender posts for an idle customer and waits for the bot's reply before going on."""
    result = PhaseResult()
    numbers = iter(range(total))
    idle: asyncio.Queue[Customer] = asyncio.Queue()
    for customer in customers:
        idle.put_nowait(customer)

    async def sender() -> None:
        for _ in numbers:
            customer = await idle.get()
            await _converse(poster, book, customer, result)
            idle.put_nowait(customer)

    await _bounded(result, timeout_s, *(sender() for _ in range(concurrency)))
    return result


async def open_loop(
    poster: Poster,
    book: ReplyBook,
    customers: list[Customer],
    *,
    rate: float,
    duration_s: float,
    timeout_s: float,
    spare_chat_id: int,
) -> PhaseResult:
    """Messages start on a fixed schedule whatever the server does; idle customers send them."""
    result = PhaseResult()
    idle = deque(customers)
    tasks: set[asyncio.Task[None]] = set()
    spare_ids = itertools.count(spare_chat_id)

    async def one(customer: Customer) -> None:
        await _converse(poster, book, customer, result)
        idle.append(customer)

    async def schedule() -> None:
        count = max(1, round(rate * duration_s))
        begin = time.perf_counter()
        for number in range(count):
            delay = begin + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.max_send_lag_s = max(result.max_send_lag_s, -delay)
            if not idle:  # every customer still waits for a reply: a new one writes in
                idle.extend(make_customers(1, next(spare_ids)))
                result.extra_customers += 1
            task = asyncio.create_task(one(idle.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        result.send_window_s = time.perf_counter() - begin
        while tasks:
            await asyncio.gather(*list(tasks))

    try:
        await _bounded(result, timeout_s, schedule())
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result


async def _converse(
    poster: Poster, book: ReplyBook, customer: Customer, result: PhaseResult
) -> None:
    """One message and its reply; latency runs from starting the POST to the reply's arrival."""
    reply = book.expect(customer.chat_id)
    started = result.started()
    try:
        status = await poster.post(customer)
        result.acked_at(started, status)
        if status != 200:  # not stored, so no reply will come
            book.forget(customer.chat_id, reply)
            return
        arrived = await reply
    except asyncio.CancelledError:
        book.forget(customer.chat_id, reply)
        raise
    result.replied_at(started, arrived)


async def _bounded(
    result: PhaseResult, timeout_s: float, *coros: Coroutine[Any, Any, None]
) -> None:
    """Run the phase's coroutines; past the time limit cancel them and keep what was measured."""
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*coros)
    except TimeoutError:
        result.timed_out = True
