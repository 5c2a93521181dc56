"""Progress of a message that needs several API calls, so a retry resumes instead of repeating.

Kept in memory, per adapter: a retry in the same process skips the calls that already went out;
after a restart the whole message is sent again (the dispatcher's retry is the only caller).
"""

from __future__ import annotations

MAX_PARTIAL = 1000  # abandoned retries must not grow forever


class PartialSends:
    """Our message id → the channel's ids of the steps (text parts, files) already sent."""

    def __init__(self, limit: int = MAX_PARTIAL) -> None:
        self._limit = limit
        self._done: dict[str, list[str]] = {}

    def take(self, message_id: str) -> list[str]:
        """The ids sent by an earlier attempt (forgotten here: `keep` again on a new failure)."""
        return self._done.pop(message_id, [])

    def keep(self, message_id: str, ids: list[str]) -> None:
        if not ids:
            return
        self._done[message_id] = ids
        while len(self._done) > self._limit:
            self._done.pop(next(iter(self._done)))

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._done
