"""The dashboard's headline numbers, formatted from the metrics summary (the API's figures).

Nothing here computes a metric: each tile keeps the API's raw value beside the text people
read, so the page and GET /api/v1/metrics/summary cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff.console.i18n import Translate


@dataclass(frozen=True)
class Tile:
    """One number on the page: `raw` is the API's value, `shown` the same for people."""

    key: str
    label: str
    raw: Any
    shown: str
    note: str = ""


@dataclass(frozen=True)
class Formats:
    """Numbers written the reader's way (Vietnamese uses a decimal comma)."""

    t: Translate
    lang: str

    def _decimal(self, text: str) -> str:
        return text.replace(".", ",") if self.lang == "vi" else text

    def share(self, value: float | None) -> str:
        return "—" if value is None else self._decimal(f"{value * 100:.1f}") + " %"

    def score(self, value: float | None) -> str:
        return "—" if value is None else self._decimal(f"{value:.2f}")

    def seconds(self, value: float | None) -> str:
        """`45 s`, `2 min 48 s`, `3 h 5 min`: precise enough to tell a p90 from a median."""
        if value is None:
            return "—"
        whole = round(value)
        if whole < 60:
            return f"{whole} s"
        minutes, secs = divmod(whole, 60)
        if minutes < 60:
            return f"{minutes} min {secs} s" if secs else f"{minutes} min"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def tiles(f: Mapping[str, Any], fmt: Formats) -> list[Tile]:
    """The headline numbers, in reading order."""
    t = fmt.t

    def count(key: str, label: str, note: str = "", value: int | None = None) -> Tile:
        raw = f[key] if value is None else value
        return Tile(key, label, raw, str(raw), note)

    def rate(key: str, label: str, note: str = "") -> Tile:
        return Tile(key, label, f[key], fmt.share(f[key]), note)

    def time(key: str, label: str) -> Tile:
        return Tile(key, label, f[key], fmt.seconds(f[key]))

    tickets = sum(f["complaints"].get("by_category", {}).values())
    breached = f["sla_breached_conversations"]
    return [
        count("conversations", t("dashboard_conversations")),
        rate("handoff_rate", t("dashboard_handoff_rate"),
             t("dashboard_handoffs_note", n=f["handoffs"])),
        rate("bot_containment", t("dashboard_containment")),
        time("first_response_median_s", t("dashboard_frt_median")),
        time("first_response_p90_s", t("dashboard_frt_p90")),
        time("resolution_median_s", t("dashboard_resolution_median")),
        time("resolution_p90_s", t("dashboard_resolution_p90")),
        Tile("csat", t("dashboard_csat"), f["csat"], fmt.score(f["csat"]),
             t("dashboard_csat_note", n=f["csat_responses"])),
        rate("csat_satisfied", t("dashboard_csat_satisfied")),
        count("sla_breaches", t("dashboard_sla_breaches"),
              t("dashboard_sla_note", n=breached, share=fmt.share(f["sla_breach_rate"]))),
        count("complaints", t("dashboard_complaints"), value=tickets),
        count("bookings", t("dashboard_bookings")),
        count("no_shows", t("dashboard_no_shows")),
        rate("repeat_contact_rate", t("dashboard_repeat")),
        rate("repeat_contact_7d_rate", t("dashboard_repeat_7d"),
             t("dashboard_pending_7d", n=f["repeat_contact_7d_pending"])),
        rate("retention_90d", t("dashboard_retention"),
             t("dashboard_retention_note", n=f["retention_customers"],
               pending=f["retention_pending"])),
        rate("lead_conversion", t("dashboard_conversion"),
             t("dashboard_conversion_note", won=f["conversions"], leads=f["leads"])),
    ]  # fmt: skip
