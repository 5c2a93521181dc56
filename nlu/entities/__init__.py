"""Entity extraction: phones, e-mails, order ids, catalogue services and dates/times.

`EntityExtractor.extract` returns Rasa-shaped entity dicts, sorted by start and never
overlapping. Each extractor lives in its own module and yields candidate spans; this module
settles overlaps (an e-mail beats the digits inside it, an order id beats a phone-like number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nlu.entities import dates, email, order_id, phone, service
from nlu.entities.catalogue import DEFAULT_SERVICES
from nlu.entities.folding import Folded
from nlu.entities.spans import Span, settle

__all__ = ["DEFAULT_SERVICES", "EntityExtractor"]


class EntityExtractor:
    """All extractors behind one call, configured once per tenant (zone, region, catalogue)."""

    def __init__(
        self,
        timezone: str = "Asia/Ho_Chi_Minh",
        default_region: str = "VN",
        services: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.region = default_region
        self._services = service.ServiceMatcher(DEFAULT_SERVICES if services is None else services)

    def extract(self, text: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every entity in `text`; dates are resolved against `now` (default: the clock)."""
        return [span.to_rasa() for span in self.spans(text, now=now)]

    def spans(self, text: str, *, now: datetime | None = None) -> list[Span]:
        """The settled spans, for callers that want the objects rather than dicts."""
        if not text:
            return []
        folded = Folded.of(text)
        reference = self._reference(now)
        candidates: list[Span] = []
        candidates += email.find(text)
        candidates += order_id.find(folded)
        when = dates.find(folded, now=reference)
        candidates += when
        blocked = [(s.start, s.end) for s in candidates]
        candidates += phone.find(text, region=self.region, blocked=blocked)
        candidates += self._services.find(folded)
        return settle(candidates)

    def _reference(self, now: datetime | None) -> datetime:
        """`now` in the configured zone; a naive value is taken as local wall time."""
        if now is None:
            return datetime.now(self.zone)
        if now.tzinfo is None:
            return now.replace(tzinfo=self.zone)
        return now.astimezone(self.zone)
