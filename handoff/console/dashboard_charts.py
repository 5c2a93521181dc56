"""The dashboard's charts, each drawn from the metrics summary's own figures (no sums here
beyond what a chart needs to lay itself out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from handoff.console.charts import Bar, Series, horizontal_bars, stacked_columns
from handoff.console.dashboard_tiles import Formats

SEVERITY_ORDER = ("urgent", "high", "normal", "low")
Figures = Mapping[str, Any]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: Markup


def charts(f: Figures, days: Sequence[str], fmt: Formats) -> list[Chart]:
    """Every chart of the page, in reading order."""
    return [
        per_day(f, days, fmt),
        times(f, fmt, "frt", "first_response"),
        times(f, fmt, "resolution", "resolution"),
        csat(f, fmt),
        containment(f, fmt),
        sla(f, fmt),
        *complaints(f, fmt),
        bookings(f, fmt),
        retention(f, fmt),
        conversion(f, fmt),
    ]


def _bars(
    key: str, title: str, rows: Sequence[Bar], fmt: Formats, top: float | None = None
) -> Chart:
    empty = fmt.t("dashboard_no_data")
    return Chart(key, title, horizontal_bars(f"c-{key}", title, rows, empty=empty, top=top))


def _counts(pairs: Sequence[tuple[str, int]], css: str) -> list[Bar]:
    return [Bar(label, n, str(n), css) for label, n in pairs]


def per_day(f: Figures, days: Sequence[str], fmt: Formats) -> Chart:
    """Conversations per local day, one stacked layer per channel."""
    counts = {(row["date"], row["channel"]): row["count"] for row in f["per_day"]}
    series = [
        Series(channel, [counts.get((day, channel), 0) for day in days], f"series-{channel}")
        for channel in f["by_channel"]
    ]
    title = fmt.t("dashboard_chart_per_day")
    empty = fmt.t("dashboard_no_data")
    svg = stacked_columns("c-per-day", title, days, series, empty=empty, short=lambda d: d[5:])
    return Chart("per_day", title, svg)


def times(f: Figures, fmt: Formats, key: str, figure: str) -> Chart:
    """Median and p90 of one duration (first response or resolution)."""
    t = fmt.t
    pairs = (
        (t("dashboard_median"), f[f"{figure}_median_s"]),
        (t("dashboard_p90"), f[f"{figure}_p90_s"]),
    )
    rows = [Bar(label, v, fmt.seconds(v), "bar-time") for label, v in pairs if v is not None]
    title = t("dashboard_chart_frt") if key == "frt" else t("dashboard_chart_resolution")
    return _bars(key, title, rows, fmt)


def csat(f: Figures, fmt: Formats) -> Chart:
    scores = [(f"{score} ★", n) for score, n in sorted(f["csat_distribution"].items())]
    rows = _counts(scores, "bar-csat") if f["csat_responses"] else []
    return _bars("csat", fmt.t("dashboard_chart_csat"), rows, fmt)


def _shares(pairs: Sequence[tuple[str, float | None]], fmt: Formats) -> list[Bar]:
    return [Bar(label, v or 0.0, fmt.share(v), "bar-share") for label, v in pairs]


def containment(f: Figures, fmt: Formats) -> Chart:
    t = fmt.t
    pairs = [
        (t("dashboard_containment"), f["bot_containment"]),
        (t("dashboard_handoff_rate"), f["handoff_rate"]),
    ]
    rows = _shares(pairs, fmt) if f["conversations"] else []
    return _bars("containment", t("dashboard_chart_containment"), rows, fmt, top=1.0)


def sla(f: Figures, fmt: Formats) -> Chart:
    t = fmt.t
    pairs = [
        (t("dashboard_handed_off"), f["handoffs"]),
        (t("dashboard_sla_breached"), f["sla_breached_conversations"]),
    ]
    rows = _counts(pairs, "bar-sla") if f["handoffs"] else []
    return _bars("sla", t("dashboard_chart_sla"), rows, fmt)


def complaints(f: Figures, fmt: Formats) -> list[Chart]:
    """Tickets by category, and by severity from the most to the least urgent."""
    t = fmt.t
    by_category = f["complaints"].get("by_category", {})
    by_severity = f["complaints"].get("by_severity", {})
    order = [s for s in SEVERITY_ORDER if s in by_severity]
    order += sorted(s for s in by_severity if s not in SEVERITY_ORDER)
    words = {
        "urgent": t("dashboard_severity_urgent"),
        "high": t("dashboard_severity_high"),
        "normal": t("dashboard_severity_normal"),
        "low": t("dashboard_severity_low"),
    }
    severities = [(words.get(s, s), by_severity[s]) for s in order]
    categories = _counts(sorted(by_category.items()), "bar-ticket")
    return [
        _bars("categories", t("dashboard_chart_categories"), categories, fmt),
        _bars(
            "severities", t("dashboard_chart_severities"), _counts(severities, "bar-severity"), fmt
        ),
    ]


def bookings(f: Figures, fmt: Formats) -> Chart:
    t = fmt.t
    pairs = [(t("dashboard_bookings"), f["bookings"]), (t("dashboard_no_shows"), f["no_shows"])]
    rows = _counts(pairs, "bar-booking") if f["bookings"] else []
    return _bars("bookings", t("dashboard_chart_bookings"), rows, fmt)


def retention(f: Figures, fmt: Formats) -> Chart:
    t = fmt.t
    pairs = [
        (t("dashboard_repeat"), f["repeat_contact_rate"]),
        (t("dashboard_repeat_7d"), f["repeat_contact_7d_rate"]),
        (t("dashboard_retention"), f["retention_90d"]),
    ]
    rows = _shares(pairs, fmt) if f["conversations"] else []
    return _bars("retention", t("dashboard_chart_retention"), rows, fmt, top=1.0)


def conversion(f: Figures, fmt: Formats) -> Chart:
    t = fmt.t
    pairs = [(t("dashboard_leads"), f["leads"]), (t("dashboard_conversions"), f["conversions"])]
    rows = _counts(pairs, "bar-conversion") if f["leads"] else []
    return _bars("conversion", t("dashboard_chart_conversion"), rows, fmt)
