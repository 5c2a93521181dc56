"""What of an event's data survives an erasure: ids, numbers and known labels, never free text.

Timeline data is written by many modules; rather than list what to remove (and miss the next
field someone adds), we list what may stay and drop the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Keys whose short string values are labels or times, not something the person wrote or is.
SAFE_KEYS = frozenset(
    {
        "actor_name",
        "agent_name",
        "category",
        "channel",
        "currency",
        "ends_at",
        "from",
        "kind",
        "label",
        "matched",
        "previous_starts_at",
        "proactive",
        "reason",
        "service",
        "severity",
        "sla_due_at",
        "source",
        "staff_name",
        "starts_at",
        "status",
        "to",
        "until",
    }
)
# Ends in `_id` but names the person outside our database (a chat handle, an order number).
OUTSIDE_IDS = frozenset({"external_id", "order_id", "external_user_id"})
SNAPSHOT_KEPT = ("id", "lifecycle_stage", "created_at")
MAX_LABEL = 100
MIN_NEEDLE = 3  # shorter strings ("An") would match everywhere and prove nothing


@dataclass(frozen=True)
class Needles:
    """The person's own strings (name, phones, e-mails, handles), compared case-folded."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Needles:
        kept = {v.strip().casefold() for v in values if v and len(v.strip()) >= MIN_NEEDLE}
        return cls(tuple(sorted(kept)))

    def found_in(self, text: str | None) -> bool:
        if not text:
            return False
        folded = text.casefold()
        return any(value in folded for value in self.values)


def scrub_data(data: Mapping[str, Any], needles: Needles) -> dict[str, Any]:
    """Keep ids, numbers, flags and labels; drop texts, nested objects and anything personal."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if _keeps(key, value, needles):
            kept[key] = value
    return kept


def _keeps(key: str, value: Any, needles: Needles) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    if key in OUTSIDE_IDS:
        return False
    if key.endswith("_id") or key in SAFE_KEYS:
        return isinstance(value, str) and _label(value, needles)
    if key.endswith("_ids") or key == "counts":
        return _ids(value, needles)
    return False


def _label(value: str, needles: Needles) -> bool:
    return len(value) <= MAX_LABEL and not needles.found_in(value)


def _ids(value: Any, needles: Needles) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) and _label(item, needles) for item in value)
    if isinstance(value, dict):
        return all(isinstance(item, int) for item in value.values())
    return False


def scrub_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A merged customer's snapshot without name, tags or attributes (ids and dates stay)."""
    kept = {key: snapshot[key] for key in SNAPSHOT_KEPT if key in snapshot}
    return {
        **kept,
        "language": snapshot.get("language"),
        "name": None,
        "tags": [],
        "attributes": {},
    }
