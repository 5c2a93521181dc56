"""Pacing of outbound sends per channel, so bursts stay under the channel's documented cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Spaces calls at least 1/rate seconds apart (a token bucket of size one), fairly in order."""

    def __init__(
        self, rate_per_second: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_slot = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when this caller may send."""
        async with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        delay = slot - now
        if delay > 0:
            await asyncio.sleep(delay)


class PerChatSpacing:
    """At least `interval` seconds between two sends to the same chat (Telegram: ~1 msg/s)."""

    def __init__(self, interval_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}

    async def wait(self, chat: str) -> None:
        now = self._clock()
        last = self._last.get(chat)
        if last is not None and now - last < self.interval_s:
            await asyncio.sleep(self.interval_s - (now - last))
        self._last[chat] = self._clock()
        if len(self._last) > 10_000:  # forget chats that are long idle
            horizon = self._clock() - self.interval_s
            self._last = {key: at for key, at in self._last.items() if at >= horizon}
