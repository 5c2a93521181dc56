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
    """One line of the table: a metric taken from every repetition's figures, per config."""

    key: str
    label: str
    unit: str
    decimals: int = 1
    target: str = ""


ROWS = (
    Row("e2e_mps", "closed loop: throughput until the reply", "msg/s", 1),
    Row(
        "over_bare",
        "closed loop throughput ÷ bare endpoint",
        "ratio",
        3,
        "≥0.12 sqlite, ≥0.20 pg-redis",
    ),
    Row("e2e_p50_ms", "closed loop: webhook → reply p50", "ms", 0),
    Row("e2e_p99_ms", "closed loop: webhook → reply p99", "ms", 0),
    Row("open_rate", "open loop: achieved send rate", "msg/s", 1),
    Row("open_p50_ms", "open loop: webhook → reply p50", "ms", 0),
    Row("open_p99_ms", "open loop: webhook → reply p99", "ms", 0, "≤100"),
    Row("open_ack_p99_ms", "open loop: webhook ack p99", "ms", 1, "≤50"),
    Row("half_rate", "half saturation: send rate", "msg/s", 1),
    Row("half_p50_ms", "half saturation: webhook → reply p50", "ms", 0),
    Row("half_p99_ms", "half saturation: webhook → reply p99", "ms", 0, "≤250"),
    Row("server_cpu_e2e", "CPU of web + workers, closed loop", "cores", 2),
    Row("cpu_ms_per_msg", "CPU time per message (web + workers)", "ms", 1),
    Row("web_rss_warm_mb", "web RSS warmed up", "MB", 0),
    Row("web_rss_mb", "web RSS after the run", "MB", 0),
    Row("worker_rss_warm_mb", "worker RSS warmed up (largest)", "MB", 0),
    Row("worker_rss_mb", "worker RSS after the run (largest)", "MB", 0),
    Row("rss_growth", "worker RSS after ÷ warmed up", "ratio", 2, "≤1.10"),
    Row("messages_stored", "messages stored in the run", "msgs", 0),
    Row("db_mb_per_100k", "database growth per 100k messages", "MB", 0),
    Row("db_over_payload", "database growth ÷ raw payload", "ratio", 2, "≤2"),
    Row("xact_commit_per_msg", "PostgreSQL commits per message", "count", 1),
    Row("xact_rollback_per_msg", "PostgreSQL rollbacks (read-only sessions) per msg", "count", 1),
    Row("rows_written_per_msg", "PostgreSQL rows written per message", "count", 1),
    Row("startup_s", "web start → /healthz 200", "s", 1),
    Row("foreign_cpu", "CPU of other processes (noise)", "cores", 2),
)
# Targets of issue 8 checked on the medians: (row, config or None for all, test, wording).
TARGETS = (
    ("over_bare", "sqlite", lambda v: v >= 0.12, "≥ 0.12× bare"),
    ("over_bare", "pg-redis", lambda v: v >= 0.20, "≥ 0.20× bare"),
    ("open_p99_ms", None, lambda v: v <= 100, "p99 ≤ 100 ms at the open-loop rate"),
    ("half_p99_ms", None, lambda v: v <= 250, "p99 ≤ 250 ms at half saturation"),
    ("open_ack_p99_ms", None, lambda v: v <= 50, "ack p99 ≤ 50 ms"),
    ("rss_growth", None, lambda v: v <= 1.10, "worker RSS ≤ 1.10× warmed up"),
    ("db_over_payload", None, lambda v: v <= 2.0, "stored ≤ 2× raw payload"),
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
    config: dict[str, Any],
    info: dict[str, Any],
    labels: dict[str, str],
    skipped: dict[str, str],
    nlu: dict[str, Any],
    repetitions: list[dict[str, Any]],
) -> tuple[str, dict[str, dict[str, dict[str, float | None]]]]:
    """The plain-text table (medians, min–max when repeated) and the summary it shows."""
    keys = [key for key in labels if key not in skipped]
    summary = {
        key: {
            row.key: spread([rep[key]["figures"].get(row.key) for rep in repetitions])
            for row in ROWS
        }
        for key in keys
    }
    bare = spread([rep["bare"]["figures"]["rps"] for rep in repetitions])
    bare_cpu = spread([rep["bare"]["figures"].get("cpu_ms_per_req") for rep in repetitions])
    summary["bare"] = {"rps": bare, "cpu_ms_per_req": bare_cpu}
    repeated = len(repetitions) > 1
    header = ["metric", "unit", *keys, "target"]
    lines = [
        [row.label, row.unit, *(_cell(summary[k][row.key], row.decimals, repeated) for k in keys),
         row.target]
        for row in ROWS
    ]  # fmt: skip
    lines.insert(0, ["bare endpoint (parse only): throughput", "req/s",
                     *(_cell(bare, 0, repeated) for _ in keys), ""])  # fmt: skip
    lines.insert(1, ["bare endpoint: CPU time per request", "ms",
                     *(_cell(bare_cpu, 2, repeated) for _ in keys), ""])  # fmt: skip
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        left = [f"{cells[0]:<{widths[0]}}", f"{cells[1]:<{widths[1]}}"]
        middle = [f"{c:>{w}}" for c, w in zip(cells[2:-1], widths[2:-1], strict=True)]
        return "  ".join([*left, *middle, cells[-1]]).rstrip()

    out = [
        f"omnicrm pipeline benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {info['nproc']} CPUs ({info['processor']}), {info['python']}, "
        f"load average {info['load_average'][0]:.2f} at start",
        "setups:  " + "; ".join(f"{k} = {labels[k]}" for k in labels),
        f"load:    closed loop {config['messages']} msgs × {config['concurrency']} senders over "
        f"{config['customers']} customers; open loops {config['rate']:g} msg/s and half the "
        f"closed-loop throughput, {config['duration']:g} s each; bare endpoint "
        f"{config['bare_messages']} posts; {len(repetitions)} repetition(s), fresh processes "
        "+ DB each; " + ("median (min–max)" if repeated else "one run"),
        f"NLU:     built-in engine, {nlu['messages']} unseen messages in-process: "
        f"p50 {_fmt(nlu['p50_ms'], 2)} ms, p99 {_fmt(nlu['p99_ms'], 2)} ms per message",
        "",
        line(header),
        line(["-" * w for w in widths]),
        *(line(cells) for cells in lines),
    ]
    for key, reason in skipped.items():
        out.append(f"{key}: skipped, {reason}")
    out.extend(_verdicts(summary, keys))
    out.extend(_problems(repetitions, keys))
    return "\n".join(out), summary


def _cell(values: dict[str, float | None], decimals: int, repeated: bool) -> str:
    median = _fmt(values["median"], decimals)
    if not repeated or values["median"] is None:
        return median
    return f"{median} ({_fmt(values['min'], decimals)}–{_fmt(values['max'], decimals)})"


def _verdicts(summary: dict[str, Any], keys: list[str]) -> list[str]:
    """Each target of issue 8 on each configuration's median: met, NOT met or not measured."""
    out = ["", "targets (issue 8, on the medians):"]
    for row, only, test, wording in TARGETS:
        for key in keys if only is None else [only]:
            if key not in summary:
                continue
            value = summary[key][row]["median"]
            verdict = "not measured" if value is None else ("met" if test(value) else "NOT met")
            shown = (
                "" if value is None else f" ({value:,.0f})" if value >= 100 else f" ({value:.3g})"
            )
            out.append(f"  {key:<9} {wording:<38} {verdict}{shown}")
    return out


def _problems(repetitions: list[dict[str, Any]], keys: list[str]) -> list[str]:
    """Anything that should not happen: errors, missing or duplicate replies, app warnings."""
    notes: list[str] = []
    for index, whole in enumerate(repetitions, 1):
        for key in ["bare", *keys]:
            notes.extend(f"{key} {note}" for note in _problems_of(index, whole[key]))
    return (
        ["", "problems:", *(f"  - {note}" for note in notes)] if notes else ["", "problems: none"]
    )


def _problems_of(index: int, rep: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    for phase, data in rep["phases"].items():
        bad = {code: n for code, n in data["statuses"].items() if code != "200"}
        if bad:
            notes.append(f"rep {index} {phase}: non-200 webhook answers {bad} (0 = no answer)")
        if data["missing_replies"] and phase != "bare":
            notes.append(f"rep {index} {phase}: {data['missing_replies']} replies never arrived")
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
    return notes


def _fmt(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def command_line() -> str:
    return " ".join([Path(sys.executable).name, "-m", "bench.pipeline", *sys.argv[1:]])
