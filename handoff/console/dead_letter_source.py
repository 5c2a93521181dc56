"""What the dead-letter page needs from the bus, as a protocol the app fills in.

handoff does not import conversations (DESIGN.md's dependency direction), so the Redis side
lives in omnicrm.dead_letters and is handed to the console; None means an in-process bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class DeadLetterRow:
    """One dead letter as the page shows it: ids, counts and the error, never message text."""

    id: str
    dead_at: datetime
    event_id: str | None
    channel: str | None
    deliveries: int
    reason: str


class DeadLettersUnavailable(Exception):
    """The dead-letter store (Redis) did not answer."""


class DeadLetterSource(Protocol):
    """Dead letters of the bus; `replay` raises LookupError for ids no longer there."""

    async def count(self) -> int: ...

    async def rows(self, limit: int) -> list[DeadLetterRow]: ...

    async def replay(self, ids: Sequence[str] | None) -> int: ...
