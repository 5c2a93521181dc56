"""Charts as inline SVG, drawn on the server: no JavaScript, no chart library, CSP-safe.

Colours come from classes styled in console.css (never a style attribute); sizes and positions
are SVG presentation attributes. Every chart is an `img` with a title and a description, and
every bar carries its own `<title>` (the value read out or shown on hover).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640  # column charts span the page
BARS_WIDTH = 320  # bar charts sit in a card about that wide, so text keeps its size
BAR_ROW = 40
VALUE_ROOM = 90
FONT = 12
MAX_COLUMN = 48  # a range of one or two days still draws columns, not walls


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: what it is, its value, the value as shown, its colour class."""

    label: str
    value: float
    shown: str
    css: str = "bar-0"


@dataclass(frozen=True)
class Series:
    """One stacked layer of a column chart: a name and one value per column."""

    name: str
    values: Sequence[float]
    css: str


def nice_step(top: float, *, ticks: int = 4, whole: bool = True) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) so that about `ticks` steps cover `top`."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return max(step, 1.0) if whole else step


def _number(value: float) -> str:
    return f"{value:g}"


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(description)}</desc>',
    ]


def horizontal_bars(
    chart_id: str, title: str, bars: Sequence[Bar], *, empty: str, top: float | None = None
) -> Markup:
    """Horizontal bars, each under its label so long labels fit a narrow card; the longest
    bar is `top` (default: the largest value)."""
    description = "; ".join(f"{bar.label}: {bar.shown}" for bar in bars) or empty
    height = max(len(bars), 1) * BAR_ROW + 6
    parts = _open(chart_id, title, description, BARS_WIDTH, height)
    scale_top = top if top is not None else max((bar.value for bar in bars), default=0)
    room = BARS_WIDTH - VALUE_ROOM
    if not bars:
        parts.append(f'<text class="chart-empty" x="0" y="20" font-size="{FONT}">')
        parts.append(f"{escape(empty)}</text>")
    for row, bar in enumerate(bars):
        y = row * BAR_ROW
        length = room * bar.value / scale_top if scale_top > 0 else 0
        parts += [
            f'<g class="bar-row"><title>{escape(bar.label)}: {escape(bar.shown)}</title>',
            f'<text class="chart-label" x="0" y="{y + 13}" font-size="{FONT}">'
            f"{escape(bar.label)}</text>",
            f'<rect class="{escape(bar.css)}" x="0" y="{y + 18}" '
            f'width="{length:.1f}" height="14" rx="2"/>',
            f'<text class="chart-value" x="{length + 6:.1f}" y="{y + 30}" '
            f'font-size="{FONT}">{escape(bar.shown)}</text></g>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(
    chart_id: str,
    title: str,
    columns: Sequence[str],
    series: Sequence[Series],
    *,
    empty: str,
    shown: Callable[[float], str] = _number,
    short: Callable[[str], str] = str,
) -> Markup:
    """Columns (e.g. days) made of stacked series, with a y axis, gridlines and a legend;
    `short` turns a column's name into its axis label (every column stays in the titles)."""
    height, left, bottom, top_pad = 260, 44, 200, 12
    totals = [sum(s.values[i] for s in series) for i in range(len(columns))]
    step = nice_step(max(totals, default=0))
    top = step * max(1, math.ceil(max(totals, default=0) / step))
    description = _columns_description(columns, series, totals, shown) or empty
    parts = _open(chart_id, title, description, WIDTH, height)
    plot_w, plot_h = WIDTH - left - 8, bottom - top_pad
    parts += _y_axis(left, bottom, plot_w, plot_h, top, step, shown)
    slot = plot_w / max(len(columns), 1)
    bar_w = min(slot * 0.7, MAX_COLUMN)
    gap = (slot - bar_w) / 2
    label_every = max(1, math.ceil(len(columns) / 10))
    for i, column in enumerate(columns):
        x = left + i * slot
        base = float(bottom)
        for layer in series:
            value = layer.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            label = f"{column} · {layer.name}: {shown(value)}"
            parts.append(
                f"<g><title>{escape(label)}</title>"
                f'<rect class="{escape(layer.css)}" x="{x + gap:.1f}" y="{base:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}"/></g>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text class="chart-label" x="{x + slot / 2:.1f}" y="{bottom + 16}" '
                f'text-anchor="middle" font-size="10">{escape(short(column))}</text>'
            )
    if not any(totals):
        parts.append(f'<text class="chart-empty" x="{left + 8}" y="{bottom - 8}" font-size="12">')
        parts.append(f"{escape(empty)}</text>")
    parts += _legend(series, bottom + 36)
    parts.append("</svg>")
    return Markup("".join(parts))


def _y_axis(
    left: int,
    bottom: int,
    plot_w: float,
    plot_h: float,
    top: float,
    step: float,
    shown: Callable[[float], str],
) -> list[str]:
    parts = [
        f'<line class="chart-axis" x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}"/>'
    ]
    for n in range(round(top / step) + 1):
        value = n * step
        y = bottom - plot_h * value / top
        parts.append(
            f'<line class="chart-grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" '
            f'y2="{y:.1f}"/><text class="chart-label" x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" font-size="10">{escape(shown(value))}</text>'
        )
    return parts


def _legend(series: Sequence[Series], y: int) -> list[str]:
    parts = []
    x = 44
    for layer in series:
        parts.append(
            f'<rect class="{escape(layer.css)}" x="{x}" y="{y - 10}" width="12" height="12"/>'
            f'<text class="chart-label" x="{x + 16}" y="{y}" font-size="{FONT}">'
            f"{escape(layer.name)}</text>"
        )
        x += 28 + 8 * len(layer.name)
    return parts


def _columns_description(
    columns: Sequence[str],
    series: Sequence[Series],
    totals: Sequence[float],
    shown: Callable[[float], str],
) -> str:
    """One sentence per non-empty column: its total and each series in it."""
    parts = []
    for i, column in enumerate(columns):
        if not totals[i]:
            continue
        inside = ", ".join(f"{s.name} {shown(s.values[i])}" for s in series if s.values[i])
        parts.append(f"{column}: {shown(totals[i])} ({inside})")
    return "; ".join(parts)
