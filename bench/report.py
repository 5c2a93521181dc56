"""Turns raw timings into the figures of performance.md §3 and prints them as a plain table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import PhaseResult


@dataclass(frozen=True)
class Row:
    """One line of the table: a metric taken from every repetition's figures."""

    key: str
    label: str
    unit: str
    decimals: int = 1


ROWS = (
    Row("ingest_rps", "ingest only: webhook throughput", "req/s", 0),
    Row("ingest_ack_p50_ms", "ingest only: ack latency p50", "ms"),
    Row("ingest_ack_p99_ms", "ingest only: ack latency p99", "ms"),
    Row("e2e_mps", "end to end (closed loop): throughput", "msg/s", 0),
    Row("e2e_p50_ms", "end to end (closed loop): latency p50", "ms"),
    Row("e2e_p99_ms", "end to end (closed loop): latency p99", "ms"),
    Row("e2e_over_ingest", "end to end ÷ ingest throughput", "ratio", 2),
    Row("open_p50_ms", "open loop: latency p50", "ms"),
    Row("open_p99_ms", "open loop: latency p99", "ms"),
    Row("open_p99_over_p50", "open loop: p99 ÷ p50", "ratio", 2),
    Row("open_rate", "open loop: achieved send rate", "msg/s", 1),
    Row("server_cpu_e2e", "server CPU during closed loop", "cores", 2),
    Row("rss_mb", "server RSS after the run", "MB", 0),
    Row("startup_s", "server start → /healthz 200", "s", 2),
    Row("foreign_cpu", "CPU of other processes (noise)", "cores", 2),
)
# Database row states expected once every message was answered; anything else is reported.
SETTLED = frozenset({"inbox:processed", "out:sent", "conversation:bot"})


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def throughput(count: int, start: float | None, end: float | None) -> float | None:
    """Completed items ÷ wall time from the first post to the last completion."""
    if not count or start is None or end is None or end <= start:
        return None
    return count / (end - start)


def phase_summary(result: PhaseResult) -> dict[str, Any]:
    """Every figure of a phase for the JSON file (the table picks a few)."""
    return {
        "posted": result.posted,
        "statuses": {str(code): n for code, n in sorted(result.statuses.items())},
        "replies": len(result.reply_s),
        "missing_replies": result.missing_replies,
        "timed_out": result.timed_out,
        "ack_rps": throughput(result.acked, result.first_post, result.last_ack),
        "reply_mps": throughput(len(result.reply_s), result.first_post, result.last_reply),
        "reply_mps_by_quarter": rate_by_quarter(result.reply_at),
        "ack_ms": _distribution(result.ack_s),
        "reply_ms": _distribution(result.reply_s),
        "send_window_s": result.send_window_s,
        "send_rate": result.send_rate,
        "max_send_lag_ms": ms(result.max_send_lag_s),
        "extra_customers": result.extra_customers,
    }


def rate_by_quarter(arrivals: Sequence[float]) -> list[float | None]:
    """Replies/s in each quarter of the replies, in order: a falling series means the
    server slows down as its database grows."""
    ordered = sorted(arrivals)
    if len(ordered) < 8:
        return []
    step = len(ordered) // 4
    edges = [ordered[i * step] for i in range(4)] + [ordered[-1]]
    return [throughput(step, edges[i], edges[i + 1]) for i in range(4)]


def _distribution(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "mean": ms(statistics.fmean(values)) if values else None,
        "p50": ms(percentile(values, 50)),
        "p90": ms(percentile(values, 90)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values)) if values else None,
    }


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median (min–max) over repetitions, ignoring repetitions that produced no figure."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": statistics.median(present),
        "min": min(present),
        "max": max(present),
        "n": len(present),
    }


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "load_average": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(
    config: dict[str, Any], info: dict[str, Any], repetitions: list[dict[str, Any]]
) -> tuple[str, dict[str, dict[str, float | None]]]:
    """The plain-text table and the summary it shows."""
    summary = {
        row.key: spread([rep["figures"].get(row.key) for rep in repetitions]) for row in ROWS
    }
    header = ("metric", "unit", "median", "min", "max")
    lines = [
        [
            row.label,
            row.unit,
            *(_fmt(summary[row.key][k], row.decimals) for k in ("median", "min", "max")),
        ]
        for row in ROWS
    ]
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        left = [f"{cells[0]:<{widths[0]}}", f"{cells[1]:<{widths[1]}}"]
        right = [f"{cell:>{width}}" for cell, width in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right)

    out = [
        f"omnicrm pipeline benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {info['nproc']} CPUs ({info['processor']}), {info['python']}, "
        f"load average {info['load_average'][0]:.2f} at start",
        "setup:   embedded default (SQLite WAL file in a temp dir, in-process bus), one uvicorn "
        "process, fake Telegram API, all on 127.0.0.1",
        f"load:    closed loop {config['messages']} msgs × {config['concurrency']} senders over "
        f"{config['customers']} customers; open loop {config['rate']:g} msg/s × "
        f"{config['duration']:g} s; {len(repetitions)} repetition(s), fresh server + DB each; "
        "median (min–max)",
        "",
        line(header),
        line(["-" * w for w in widths]),
        *(line(cells) for cells in lines),
    ]
    out.extend(_problems(repetitions))
    return "\n".join(out), summary


def _problems(repetitions: list[dict[str, Any]]) -> list[str]:
    """Anything that should not happen: errors, missing or duplicate replies, app warnings."""
    notes: list[str] = []
    for index, rep in enumerate(repetitions, 1):
        for phase, data in rep["phases"].items():
            bad = {code: n for code, n in data["statuses"].items() if code != "200"}
            if bad:
                notes.append(f"rep {index} {phase}: non-200 webhook answers {bad} (0 = no answer)")
            if data["missing_replies"] and phase != "ingest":
                notes.append(
                    f"rep {index} {phase}: {data['missing_replies']} replies never arrived"
                )
            if data["timed_out"]:
                notes.append(f"rep {index} {phase}: cut at the time limit")
        if rep.get("unmatched_replies"):
            notes.append(f"rep {index}: {rep['unmatched_replies']} replies nobody waited for")
        for name, problems in rep.get("server_log_problems", {}).items():
            if problems:
                notes.append(
                    f"rep {index} {name} server logged {len(problems)} warning/error "
                    f"line(s), first: {problems[0][:160]}"
                )
        db = rep.get("database") or {}
        leftovers = {k: v for k, v in db.items() if k not in SETTLED and v}
        if leftovers:
            notes.append(f"rep {index}: database not settled after the run: {leftovers}")
    return (
        ["", "problems:", *(f"  - {note}" for note in notes)] if notes else ["", "problems: none"]
    )


def _fmt(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def command_line() -> str:
    return " ".join([Path(sys.executable).name, "-m", "bench.pipeline", *sys.argv[1:]])
