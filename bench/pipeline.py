"""`python -m bench.pipeline`: webhook → bot reply throughput and latency of the embedded default.

Per repetition, on a fresh temp dir:
  1. an ingest-only server (worker off): closed-loop posts, waiting only for the 200;
  2. a full server: closed-loop conversations (post, wait for the reply, next message),
     then open-loop posts at a fixed rate; RSS read at the end.
Both servers are real `uvicorn` subprocesses; replies land at a fake Telegram API in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.fake_telegram import FakeTelegram
from bench.load import (
    PhaseResult,
    Poster,
    ReplyBook,
    e2e_closed_loop,
    ingest_closed_loop,
    make_customers,
    open_loop,
)
from bench.report import (
    command_line,
    machine,
    ms,
    percentile,
    phase_summary,
    ratio,
    render,
    throughput,
    write_json,
)
from bench.server import AppServer, system_busy_s

TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-secret_token-1"
CUSTOMER_CHAT_IDS = 5_100_000_000  # the measured customers
WARMUP_CHAT_IDS = 5_900_000_000  # warm-up customers, never measured
SPARE_CHAT_IDS = 6_000_000_000  # open loop: newcomers when every customer awaits a reply
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


@dataclass(frozen=True)
class Options:
    """The run's knobs, echoed into the JSON so a result says how it was made."""

    messages: int
    concurrency: int
    customers: int
    rate: float
    duration: float
    repeat: int
    warmup: int
    timeout: float
    poll_seconds: float
    output: str


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Defaults are the full run; `--quick` shrinks what was not given explicitly."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description="Throughput and webhook→reply latency of omnicrm's embedded default "
        "(SQLite + in-process bus) against a fake Telegram Bot API, all on 127.0.0.1.",
    )
    parser.add_argument("--messages", type=int, help="closed-loop messages per phase (2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop senders (16)")
    parser.add_argument("--customers", type=int, help="distinct customers (200)")
    parser.add_argument("--rate", type=float, default=30.0, help="open-loop msg/s (30)")
    parser.add_argument("--duration", type=float, help="open-loop seconds (10)")
    parser.add_argument("--repeat", type=int, help="repetitions, fresh server + DB each (3)")
    parser.add_argument("--warmup", type=int, help="unmeasured messages per server (100)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="limit per phase in seconds (120)"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=0.5, help="OMNICRM_DISPATCH_POLL_SECONDS (0.5)"
    )
    parser.add_argument("--output", default=str(RESULTS), help="JSON file (bench/results/)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 200 messages, 3 s, 1 repetition"
    )
    args = parser.parse_args(argv)
    small = args.quick
    options = Options(
        messages=_given(args.messages, 200 if small else 2000),
        concurrency=args.concurrency,
        customers=_given(args.customers, 50 if small else 200),
        rate=args.rate,
        duration=_given(args.duration, 3.0 if small else 10.0),
        repeat=_given(args.repeat, 1 if small else 3),
        warmup=_given(args.warmup, 20 if small else 100),
        timeout=args.timeout,
        poll_seconds=args.poll_seconds,
        output=args.output,
    )
    for name in ("messages", "concurrency", "customers", "rate", "duration", "repeat", "timeout"):
        if getattr(options, name) <= 0:
            parser.error(f"--{name} must be positive")
    return options


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


class CpuMeter:
    """CPU used by the server, by this process and by everyone else since it was made."""

    def __init__(self, server: AppServer) -> None:
        self.server = server
        self.wall = time.perf_counter()
        self.server_s = server.cpu_s() or 0.0
        self.own_s = time.process_time()
        self.busy_s = system_busy_s()

    def read(self) -> dict[str, float]:
        """Average cores over the interval; 'foreign' is the shared-box noise of §4."""
        wall = max(time.perf_counter() - self.wall, 1e-9)
        server = (self.server.cpu_s() or self.server_s) - self.server_s
        own = time.process_time() - self.own_s
        busy = system_busy_s() - self.busy_s
        return {
            "server_cores": server / wall,
            "bench_cores": own / wall,
            "foreign_cores": max(busy - server - own, 0.0) / wall,
        }


def server_settings(
    db: Path, telegram_url: str, options: Options, *, worker: bool
) -> dict[str, str]:
    """The environment a user would set; the rest of the settings keep their defaults."""
    return {
        "OMNICRM_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OMNICRM_TELEGRAM_BOT_TOKEN": TOKEN,
        "OMNICRM_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "OMNICRM_TELEGRAM_API_BASE": telegram_url,
        "OMNICRM_DISPATCH_POLL_SECONDS": str(options.poll_seconds),
        "OMNICRM_EMBEDDED_WORKER": "true" if worker else "false",
        "OMNICRM_LOG_LEVEL": "WARNING",
        # Measure the engine, not Telegram's 30 msg/s cap that the dispatcher normally keeps to.
        "OMNICRM_TELEGRAM_MAX_SENDS_PER_SECOND": "10000",
    }


def client_session(options: Options) -> aiohttp.ClientSession:
    """Keep-alive connections; enough of them for the open loop's overlapping posts."""
    connector = aiohttp.TCPConnector(limit=max(options.concurrency, 256), force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def measured(
    server: AppServer, phase: Callable[[], Coroutine[Any, Any, PhaseResult]]
) -> tuple[PhaseResult, dict[str, float]]:
    """Run one phase and the CPU it cost, so a noisy box shows in the result."""
    meter = CpuMeter(server)
    result = await phase()
    return result, meter.read()


async def ingest_run(
    workdir: Path, telegram_url: str, options: Options
) -> tuple[PhaseResult, dict[str, float], AppServer]:
    """Webhook only: verify, parse, dedup, store, enqueue; no worker drains the inbox."""
    settings = server_settings(workdir / "ingest.db", telegram_url, options, worker=False)
    server = AppServer(workdir=workdir, name="ingest", settings=settings)
    async with server, client_session(options) as session:
        poster = Poster(session, server.url, SECRET)
        warmup = make_customers(50, WARMUP_CHAT_IDS)
        await ingest_closed_loop(
            poster,
            warmup,
            total=options.warmup,
            concurrency=options.concurrency,
            timeout_s=options.timeout,
        )
        customers = make_customers(options.customers, CUSTOMER_CHAT_IDS)
        result, cpu = await measured(
            server,
            lambda: ingest_closed_loop(
                poster,
                customers,
                total=options.messages,
                concurrency=options.concurrency,
                timeout_s=options.timeout,
            ),
        )
    return result, cpu, server


@dataclass
class FullRun:
    """What the full server's phases measured, plus its memory and final database state."""

    e2e: PhaseResult
    e2e_cpu: dict[str, float]
    opened: PhaseResult
    open_cpu: dict[str, float]
    server: AppServer
    rss_warm_mb: float | None
    rss_mb: float | None
    database: dict[str, int] | None


async def full_run(
    workdir: Path, telegram: FakeTelegram, book: ReplyBook, options: Options
) -> FullRun:
    """The whole loop: webhook → inbox → worker → bot → outbox → dispatcher → fake Telegram."""
    db = workdir / "bench.db"
    settings = server_settings(db, telegram.url, options, worker=True)
    server = AppServer(workdir=workdir, name="full", settings=settings)
    async with server, client_session(options) as session:
        poster = Poster(session, server.url, SECRET)
        warmup = make_customers(50, WARMUP_CHAT_IDS)
        await e2e_closed_loop(
            poster,
            book,
            warmup,
            total=options.warmup,
            concurrency=options.concurrency,
            timeout_s=options.timeout,
        )
        rss_warm = server.rss_mb()
        customers = make_customers(options.customers, CUSTOMER_CHAT_IDS)
        e2e, e2e_cpu = await measured(
            server,
            lambda: e2e_closed_loop(
                poster,
                book,
                customers,
                total=options.messages,
                concurrency=options.concurrency,
                timeout_s=options.timeout,
            ),
        )
        await asyncio.sleep(0.5)  # let the last sends' status updates commit
        opened, open_cpu = await measured(
            server,
            lambda: open_loop(
                poster,
                book,
                customers,
                rate=options.rate,
                duration_s=options.duration,
                timeout_s=options.timeout,
                spare_chat_id=SPARE_CHAT_IDS,
            ),
        )
        await asyncio.sleep(0.5)
        rss = server.rss_mb()
    return FullRun(e2e, e2e_cpu, opened, open_cpu, server, rss_warm, rss, database_state(db))


def database_state(path: Path) -> dict[str, int] | None:
    """Row counts by state after the server stopped: what was left unprocessed or unsent."""
    queries = {
        "inbox": "SELECT status, count(*) FROM inbox_events GROUP BY status",
        "out": "SELECT status, count(*) FROM messages WHERE direction = 'out' GROUP BY status",
        "conversation": "SELECT status, count(*) FROM conversations GROUP BY status",
    }
    state: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        for prefix, query in queries.items():
            for status, count in conn.execute(query):
                state[f"{prefix}:{status}"] = int(count)
    except sqlite3.Error:
        return None  # the schema changed; the check is a courtesy, not the benchmark
    finally:
        conn.close()
    return state


async def run_repetition(options: Options) -> dict[str, Any]:
    """Fresh temp dir, fresh databases, fresh servers; every process is gone on return."""
    with tempfile.TemporaryDirectory(prefix="omnicrm-bench-") as tmp:
        workdir = Path(tmp)
        book = ReplyBook()
        telegram = FakeTelegram(TOKEN, book.on_reply)
        await telegram.start()
        try:
            ingest, ingest_cpu, ingest_server = await ingest_run(workdir, telegram.url, options)
            full = await full_run(workdir, telegram, book, options)
        finally:
            await telegram.stop()
    e2e, e2e_cpu, opened, open_cpu = full.e2e, full.e2e_cpu, full.opened, full.open_cpu
    server = full.server
    ingest_rps = throughput(ingest.acked, ingest.first_post, ingest.last_ack)
    e2e_mps = throughput(len(e2e.reply_s), e2e.first_post, e2e.last_reply)
    open_p50, open_p99 = ms(percentile(opened.reply_s, 50)), ms(percentile(opened.reply_s, 99))
    cpus = (ingest_cpu, e2e_cpu, open_cpu)
    figures = {
        "ingest_rps": ingest_rps,
        "ingest_ack_p50_ms": ms(percentile(ingest.ack_s, 50)),
        "ingest_ack_p99_ms": ms(percentile(ingest.ack_s, 99)),
        "e2e_mps": e2e_mps,
        "e2e_p50_ms": ms(percentile(e2e.reply_s, 50)),
        "e2e_p99_ms": ms(percentile(e2e.reply_s, 99)),
        "e2e_over_ingest": ratio(e2e_mps, ingest_rps),
        "open_p50_ms": open_p50,
        "open_p99_ms": open_p99,
        "open_p99_over_p50": ratio(open_p99, open_p50),
        "open_rate": opened.send_rate,
        "server_cpu_e2e": e2e_cpu["server_cores"],
        "rss_mb": full.rss_mb,
        "startup_s": server.started_in_s,
        "foreign_cpu": sum(c["foreign_cores"] for c in cpus) / len(cpus),
    }
    return {
        "figures": figures,
        "phases": {
            "ingest": phase_summary(ingest) | {"cpu": ingest_cpu},
            "e2e": phase_summary(e2e) | {"cpu": e2e_cpu},
            "open": phase_summary(opened) | {"cpu": open_cpu},
        },
        "rss_after_warmup_mb": full.rss_warm_mb,
        "unmatched_replies": book.unmatched,
        "telegram_calls": dict(telegram.calls),
        "database": full.database,
        "server_log_problems": {
            "ingest": ingest_server.log_problems(),
            "full": server.log_problems(),
        },
    }


async def _stoppable(options: Options) -> dict[str, Any]:
    """SIGTERM (a CI timeout, `kill`) cancels the run like Ctrl-C; `finally` stops the servers."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await run_repetition(options)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _runner() -> asyncio.Runner:
    """uvloop when present (uvicorn[standard] brings it): less load-generator overhead."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    info = machine()
    repetitions: list[dict[str, Any]] = []
    try:
        with _runner() as runner:
            for index in range(1, options.repeat + 1):
                began = time.perf_counter()
                print(f"repetition {index}/{options.repeat} ...", file=sys.stderr, flush=True)
                repetitions.append(runner.run(_stoppable(options)))
                took = time.perf_counter() - began
                print(f"  done in {took:.1f}s", file=sys.stderr, flush=True)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped, nothing written", file=sys.stderr)
        return 130
    table, summary = render(asdict(options), info, repetitions)
    print(table)
    output = Path(options.output)
    write_json(
        output,
        {
            "benchmark": "pipeline",
            "command": command_line(),
            "machine": info,
            "config": asdict(options),
            "summary": summary,
            "repetitions": repetitions,
            "table": table,
        },
    )
    print(f"\nJSON: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
