"""Which Slack channel a conversation's thread goes to (OMNICRM_SLACK_ROUTES)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_KEY = re.compile(r"^(skill:)?[a-z0-9_\-]+$")


@dataclass(frozen=True)
class Routes:
    """A skill match first, then the customer's channel, else the default inbox channel."""

    default: str
    by_channel: dict[str, str] = field(default_factory=dict)
    by_skill: dict[str, str] = field(default_factory=dict)

    def channel_for(self, *, channel: str | None, skill: str | None) -> str:
        if skill and skill.lower() in self.by_skill:
            return self.by_skill[skill.lower()]
        return self.by_channel.get((channel or "").lower(), self.default)

    def all_channels(self) -> frozenset[str]:
        """Every channel threads may live in: events from any of them are ours to read."""
        return frozenset({self.default, *self.by_channel.values(), *self.by_skill.values()})


def parse_routes(spec: str, *, default: str) -> Routes:
    """Parse `zalo=C0ZALO, sms=C0SMS, skill:complaints=C0CARE`; bad syntax is a ValueError."""
    by_channel: dict[str, str] = {}
    by_skill: dict[str, str] = {}
    for raw in re.split(r"[,;\n]", spec):
        item = raw.strip()
        if not item:
            continue
        key, sep, target = (part.strip() for part in item.partition("="))
        key = key.lower()
        if not sep or not _KEY.match(key) or not _CHANNEL_ID.match(target):
            raise ValueError(
                f"OMNICRM_SLACK_ROUTES: cannot read {item!r}; expected entries like "
                "'zalo=C0ZALO' or 'skill:complaints=C0CARE' separated by commas"
            )
        table = by_skill if key.startswith("skill:") else by_channel
        name = key.removeprefix("skill:")
        if name in table:
            raise ValueError(f"OMNICRM_SLACK_ROUTES: {key!r} is routed twice")
        table[name] = target
    return Routes(default=default, by_channel=by_channel, by_skill=by_skill)
