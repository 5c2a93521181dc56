"""`python -m bench.pipeline`: webhook → bot reply throughput and latency, side by side.

Per repetition, interleaved, each on a fresh database and fresh processes:
  bare      a FastAPI endpoint that only parses the JSON (the yardstick of the ratios);
  sqlite    the embedded default: one uvicorn process with its in-process worker;
  pg        PostgreSQL, web (worker off) + one `omnicrm worker` polling the inbox;
  pg-redis  PostgreSQL + Redis Streams, web only + two `omnicrm worker` processes.
Each pipeline gets a warm-up, a closed loop (post, wait for the reply, next message), an open
loop at --rate and an open loop at half the closed loop's throughput. Replies land at a fake
Telegram API in this process. PostgreSQL and Redis configurations are skipped, with the reason,
when the servers do not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
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
from bench.server import AppServer, WorkerProcess, spawn, system_busy_s
from bench.stores import (
    DEFAULT_PG,
    DEFAULT_REDIS,
    PostgresStore,
    SqliteStore,
    Store,
    postgres_problem,
    redis_forget,
    redis_problem,
)

TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-secret_token-1"
CUSTOMER_CHAT_IDS = 5_100_000_000  # the measured customers
WARMUP_CHAT_IDS = 5_900_000_000  # warm-up customers, never measured
SPARE_CHAT_IDS = 6_000_000_000  # open loop: newcomers when every customer awaits a reply
HALF_CHAT_IDS = 7_000_000_000  # the half-saturation open loop's newcomers
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"
# uvicorn runs in the temp dir, so it is told where the `bench` package lives.
BARE_APP = ("--app-dir", str(Path(__file__).resolve().parent.parent), "bench.bare:app")


@dataclass(frozen=True)
class Config:
    """One deployment shape: where it stores, whether Redis carries events, how many workers."""

    key: str
    label: str
    postgres: bool
    redis: bool
    workers: int


CONFIGS = (
    Config("sqlite", "SQLite, embedded worker", postgres=False, redis=False, workers=0),
    Config("pg", "PostgreSQL + 1 worker", postgres=True, redis=False, workers=1),
    Config("pg-redis", "PostgreSQL + Redis + 2 workers", postgres=True, redis=True, workers=2),
)


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
    bare_messages: int
    timeout: float
    poll_seconds: float
    configs: tuple[str, ...]
    database_url: str
    redis_url: str
    output: str


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Defaults are the standard run; `--quick` shrinks what was not given explicitly."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description="Throughput and webhook→reply latency of omnicrm on SQLite, PostgreSQL and "
        "PostgreSQL + Redis, against a bare endpoint, all on 127.0.0.1.",
    )
    parser.add_argument("--messages", type=int, help="closed-loop messages per pipeline (300)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop senders (16)")
    parser.add_argument("--customers", type=int, help="distinct customers (200)")
    parser.add_argument("--rate", type=float, default=30.0, help="open-loop msg/s (30)")
    parser.add_argument("--duration", type=float, help="seconds of each open loop (6)")
    parser.add_argument("--repeat", type=int, help="repetitions, fresh servers + DBs each (3)")
    parser.add_argument("--warmup", type=int, help="unmeasured messages per pipeline (50)")
    parser.add_argument("--bare-messages", type=int, help="posts to the bare endpoint (3000)")
    parser.add_argument(
        "--timeout", type=float, help="limit per phase in seconds (120, or messages ÷ 5)"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=0.5, help="OMNICRM_DISPATCH_POLL_SECONDS (0.5)"
    )
    parser.add_argument(
        "--configs",
        default=",".join(c.key for c in CONFIGS),
        help="comma-separated subset of " + ", ".join(c.key for c in CONFIGS),
    )
    parser.add_argument("--output", default=str(RESULTS), help="JSON file (bench/results/)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 messages, 3 s, 1 repetition"
    )
    args = parser.parse_args(argv)
    small = args.quick
    messages = _given(args.messages, 100 if small else 300)
    chosen = tuple(key.strip() for key in args.configs.split(",") if key.strip())
    unknown = set(chosen) - {c.key for c in CONFIGS}
    if unknown or not chosen:
        parser.error(f"--configs: unknown {sorted(unknown)}")
    options = Options(
        messages=messages,
        concurrency=args.concurrency,
        customers=_given(args.customers, 50 if small else 200),
        rate=args.rate,
        duration=_given(args.duration, 3.0 if small else 6.0),
        repeat=_given(args.repeat, 1 if small else 3),
        warmup=_given(args.warmup, 20 if small else 50),
        bare_messages=_given(args.bare_messages, 1000 if small else 3000),
        timeout=_given(args.timeout, max(120.0, messages / 5)),
        poll_seconds=args.poll_seconds,
        configs=chosen,
        database_url=os.environ.get("OMNICRM_BENCH_DATABASE_URL", DEFAULT_PG),
        redis_url=os.environ.get("OMNICRM_BENCH_REDIS_URL", DEFAULT_REDIS),
        output=args.output,
    )
    for name in ("messages", "concurrency", "customers", "rate", "duration", "repeat", "timeout"):
        if getattr(options, name) <= 0:
            parser.error(f"--{name} must be positive")
    if options.customers <= options.concurrency:
        parser.error("--customers must exceed --concurrency")
    return options


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


class CpuMeter:
    """CPU used by the deployment's processes, by this process and by everyone else."""

    def __init__(self, processes: Sequence[AppServer]) -> None:
        self.processes = processes
        self.wall = time.perf_counter()
        self.served_s = self._served()
        self.own_s = time.process_time()
        self.busy_s = system_busy_s()

    def _served(self) -> float:
        return sum(p.cpu_s() or 0.0 for p in self.processes)

    def read(self) -> dict[str, float]:
        """Average cores over the interval; 'foreign' is the shared-box noise of §4."""
        wall = max(time.perf_counter() - self.wall, 1e-9)
        served = max(self._served() - self.served_s, 0.0)
        own = time.process_time() - self.own_s
        busy = system_busy_s() - self.busy_s
        return {
            "server_cores": served / wall,
            "bench_cores": own / wall,
            "foreign_cores": max(busy - served - own, 0.0) / wall,
        }


async def measured(
    processes: Sequence[AppServer], phase: Callable[[], Coroutine[Any, Any, PhaseResult]]
) -> tuple[PhaseResult, dict[str, float]]:
    """Run one phase and the CPU it cost, so a noisy box shows in the result."""
    meter = CpuMeter(processes)
    result = await phase()
    return result, meter.read()


def settings_for(
    config: Config, store: Store, telegram_url: str, options: Options, prefix: str
) -> dict[str, str]:
    """The environment a user would set; the rest of the settings keep their defaults."""
    settings = {
        "OMNICRM_DATABASE_URL": store.url,
        "OMNICRM_TELEGRAM_BOT_TOKEN": TOKEN,
        "OMNICRM_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "OMNICRM_TELEGRAM_API_BASE": telegram_url,
        "OMNICRM_DISPATCH_POLL_SECONDS": str(options.poll_seconds),
        # Migrated once beforehand (`omnicrm migrate`), as the scaled-out README says.
        "OMNICRM_AUTO_MIGRATE": "false",
        "OMNICRM_EMBEDDED_WORKER": "true" if config.workers == 0 else "false",
        "OMNICRM_LOG_LEVEL": "WARNING",
        # Measure the engine, not Telegram's 30 msg/s cap that the dispatcher normally keeps to.
        "OMNICRM_TELEGRAM_MAX_SENDS_PER_SECOND": "10000",
    }
    if config.redis:
        settings["OMNICRM_REDIS_URL"] = options.redis_url
        settings["OMNICRM_REDIS_PREFIX"] = prefix
    return settings


def client_session(options: Options) -> aiohttp.ClientSession:
    """Keep-alive connections; enough of them for the open loop's overlapping posts."""
    connector = aiohttp.TCPConnector(limit=max(options.concurrency, 256), force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def migrate(workdir: Path, settings: dict[str, str], timeout_s: float = 120) -> None:
    """`omnicrm migrate`, once, before any process starts."""
    log = workdir / "migrate.log"
    proc = spawn([str(Path(sys.executable).parent / "omnicrm"), "migrate"], workdir, settings, log)
    try:
        code = await asyncio.to_thread(proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("omnicrm migrate did not finish") from None
    if code != 0:
        raise RuntimeError(f"omnicrm migrate exited with {code}:\n{log.read_text()[-2000:]}")


async def bare_run(workdir: Path, options: Options) -> dict[str, Any]:
    """The yardstick: the same posts to an endpoint that only parses them."""
    server = AppServer(workdir=workdir, name="bare", settings={}, app=BARE_APP)
    async with server, client_session(options) as session:
        poster = Poster(session, server.url, SECRET)
        warm = make_customers(50, WARMUP_CHAT_IDS)
        await ingest_closed_loop(
            poster, warm, total=200, concurrency=options.concurrency, timeout_s=options.timeout
        )
        customers = make_customers(options.customers, CUSTOMER_CHAT_IDS)
        result, cpu = await measured(
            [server],
            lambda: ingest_closed_loop(
                poster,
                customers,
                total=options.bare_messages,
                concurrency=options.concurrency,
                timeout_s=options.timeout,
            ),
        )
    rps = throughput(result.acked, result.first_post, result.last_ack)
    return {
        "figures": {
            "rps": rps,
            "ack_p99_ms": ms(percentile(result.ack_s, 99)),
            "cpu_ms_per_req": ratio(cpu["server_cores"] * 1000, rps),
        },
        "phases": {"bare": phase_summary(result) | {"cpu": cpu}},
        "server_log_problems": {"bare": server.log_problems()},
    }


async def pipeline_run(
    config: Config, workdir: Path, options: Options, bare_rps: float | None
) -> dict[str, Any]:
    """One configuration from an empty database to its stopped processes and final size."""
    prefix = f"omnicrm-bench-{uuid.uuid4().hex[:10]}"
    store: Store = (
        PostgresStore(options.database_url)
        if config.postgres
        else SqliteStore(workdir / f"{config.key}.db")
    )
    book = ReplyBook()
    telegram = FakeTelegram(TOKEN, book.on_reply)
    await telegram.start()
    try:
        await store.create()
        settings = settings_for(config, store, telegram.url, options, prefix)
        await migrate(workdir, settings)
        empty_bytes = await store.size_bytes()
        before = await store.activity()
        run = await _drive(config, workdir, settings, book, options)
        stored_bytes = await store.size_bytes() - empty_bytes
        await asyncio.sleep(0.6)  # backends report their statistics at most every 0.5 s
        activity = {key: value - before[key] for key, value in (await store.activity()).items()}
        database = await store.state()
    finally:
        await telegram.stop()
        await store.drop()
        if config.redis:
            await redis_forget(options.redis_url, prefix)
    figures = _figures(run, bare_rps, stored_bytes)
    for key in ("xact_commit", "xact_rollback", "rows_written"):
        if key in activity and run.accepted:
            figures["figures"][f"{key}_per_msg"] = activity[key] / run.accepted
    return figures | {
        "database_activity": activity,
        "unmatched_replies": book.unmatched,
        "telegram_calls": dict(telegram.calls),
        "database": database,
        "stored_bytes": stored_bytes,
        "empty_database_bytes": empty_bytes,
    }


@dataclass
class Drive:
    """What one deployment's phases measured, and its processes' memory."""

    e2e: PhaseResult
    e2e_cpu: dict[str, float]
    opened: PhaseResult
    open_cpu: dict[str, float]
    half: PhaseResult
    half_cpu: dict[str, float]
    half_rate: float
    rss_warm: dict[str, float | None]
    rss_end: dict[str, float | None]
    accepted: int
    accepted_bytes: int
    startup_s: float | None
    log_problems: dict[str, list[str]]


async def _drive(
    config: Config, workdir: Path, settings: dict[str, str], book: ReplyBook, options: Options
) -> Drive:
    """Start web + workers, warm up, then the closed loop and the two open loops."""
    web = AppServer(workdir=workdir, name=f"{config.key}-web", settings=settings)
    workers = [
        WorkerProcess(workdir=workdir, name=f"{config.key}-worker{i + 1}", settings=settings)
        for i in range(config.workers)
    ]
    processes: list[AppServer] = [web, *workers]
    try:
        for process in processes:
            await process.start()
        async with client_session(options) as session:
            poster = Poster(session, web.url, SECRET)
            await e2e_closed_loop(
                poster,
                book,
                make_customers(50, WARMUP_CHAT_IDS),
                total=options.warmup,
                concurrency=options.concurrency,
                timeout_s=options.timeout,
            )
            rss_warm = {p.name: p.rss_mb() for p in processes}
            customers = make_customers(options.customers, CUSTOMER_CHAT_IDS)
            e2e, e2e_cpu = await measured(
                processes,
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
                processes,
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
            e2e_mps = throughput(len(e2e.reply_s), e2e.first_post, e2e.last_reply)
            half_rate = max((e2e_mps or 2.0) / 2, 1.0)
            await asyncio.sleep(0.5)
            half, half_cpu = await measured(
                processes,
                lambda: open_loop(
                    poster,
                    book,
                    customers,
                    rate=half_rate,
                    duration_s=options.duration,
                    timeout_s=options.timeout,
                    spare_chat_id=HALF_CHAT_IDS,
                ),
            )
            await asyncio.sleep(0.5)
            rss_end = {p.name: p.rss_mb() for p in processes}
    finally:
        for process in reversed(processes):  # workers first: they finish what they hold
            process.stop()
    return Drive(
        e2e, e2e_cpu, opened, open_cpu, half, half_cpu, half_rate, rss_warm, rss_end,
        poster.accepted, poster.accepted_bytes, web.started_in_s,
        {p.name: p.log_problems() for p in processes},
    )  # fmt: skip


def _figures(run: Drive, bare_rps: float | None, stored_bytes: int) -> dict[str, Any]:
    e2e, opened, half = run.e2e, run.opened, run.half
    e2e_mps = throughput(len(e2e.reply_s), e2e.first_post, e2e.last_reply)
    web = [name for name in run.rss_end if name.endswith("-web")]
    workers = [name for name in run.rss_end if "-worker" in name]
    memory_side = workers or web  # the embedded default's worker lives in the web process
    growth = [
        ratio(run.rss_end[name], run.rss_warm.get(name))
        for name in memory_side
        if run.rss_end[name] is not None
    ]
    per_message = stored_bytes / run.accepted if run.accepted else None
    figures = {
        "e2e_mps": e2e_mps,
        "over_bare": ratio(e2e_mps, bare_rps),
        "e2e_p50_ms": ms(percentile(e2e.reply_s, 50)),
        "e2e_p99_ms": ms(percentile(e2e.reply_s, 99)),
        "open_p50_ms": ms(percentile(opened.reply_s, 50)),
        "open_p99_ms": ms(percentile(opened.reply_s, 99)),
        "open_ack_p99_ms": ms(percentile(opened.ack_s, 99)),
        "open_rate": opened.send_rate,
        "half_rate": run.half_rate,
        "half_p50_ms": ms(percentile(half.reply_s, 50)),
        "half_p99_ms": ms(percentile(half.reply_s, 99)),
        "server_cpu_e2e": run.e2e_cpu["server_cores"],
        "cpu_ms_per_msg": ratio(run.e2e_cpu["server_cores"] * 1000, e2e_mps),
        "web_rss_warm_mb": _first(run.rss_warm, web),
        "web_rss_mb": _first(run.rss_end, web),
        "worker_rss_warm_mb": _first(run.rss_warm, workers),
        "worker_rss_mb": _first(run.rss_end, workers),
        "rss_growth": max((g for g in growth if g is not None), default=None),
        "messages_stored": run.accepted,
        "db_mb_per_100k": None if per_message is None else per_message * 100_000 / 1e6,
        "db_over_payload": ratio(stored_bytes, run.accepted_bytes),
        "startup_s": run.startup_s,
        "foreign_cpu": sum(c["foreign_cores"] for c in (run.e2e_cpu, run.open_cpu, run.half_cpu))
        / 3,
    }
    return {
        "figures": figures,
        "phases": {
            "e2e": phase_summary(e2e) | {"cpu": run.e2e_cpu},
            "open": phase_summary(opened) | {"cpu": run.open_cpu},
            "half": phase_summary(half) | {"cpu": run.half_cpu},
        },
        "rss_after_warmup_mb": run.rss_warm,
        "rss_after_run_mb": run.rss_end,
        "payload_bytes": run.accepted_bytes,
        "server_log_problems": run.log_problems,
    }


def _first(values: dict[str, float | None], names: list[str]) -> float | None:
    """The web's figure, or the largest worker's (several workers: the one that grew most)."""
    present = [values[n] for n in names if values.get(n) is not None]
    return max(present) if present else None  # type: ignore[type-var]


async def unavailable(options: Options) -> dict[str, str]:
    """Configurations that cannot run here, with the reason for the table."""
    wanted = [c for c in CONFIGS if c.key in options.configs]
    pg = await postgres_problem(options.database_url) if any(c.postgres for c in wanted) else None
    redis = await redis_problem(options.redis_url) if any(c.redis for c in wanted) else None
    reasons: dict[str, str] = {}
    for config in wanted:
        reason = (pg if config.postgres else None) or (redis if config.redis else None)
        if reason:
            reasons[config.key] = reason
    return reasons


async def nlu_timing() -> dict[str, Any]:
    """Parse time per message of the built-in engine, in this process, every message new."""
    from nlu import BuiltinNLU
    from nlu.builtin import heldout_data_path
    from nlu.rasa_yaml import read_nlu

    def parse_all() -> dict[str, Any]:
        engine = BuiltinNLU()
        texts = [example.text for example in read_nlu(heldout_data_path()).examples]
        seconds = []
        for text in texts:
            began = time.perf_counter()
            engine.parse(text)
            seconds.append(time.perf_counter() - began)
        return {
            "messages": len(seconds),
            "p50_ms": ms(percentile(seconds, 50)),
            "p99_ms": ms(percentile(seconds, 99)),
        }

    return await asyncio.to_thread(parse_all)


async def run_repetition(options: Options, skipped: dict[str, str]) -> dict[str, Any]:
    """The bare endpoint, then each pipeline; every process is gone on return."""
    with tempfile.TemporaryDirectory(prefix="omnicrm-bench-") as tmp:
        workdir = Path(tmp)
        bare = await bare_run(workdir, options)
        results: dict[str, Any] = {"bare": bare}
        for config in CONFIGS:
            if config.key in options.configs and config.key not in skipped:
                print(f"  {config.key} ...", file=sys.stderr, flush=True)
                results[config.key] = await pipeline_run(
                    config, workdir, options, bare["figures"]["rps"]
                )
    return results


async def _stoppable(coro: Coroutine[Any, Any, Any]) -> Any:
    """SIGTERM (a CI timeout, `kill`) cancels the run like Ctrl-C; `finally` stops the servers."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await coro
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _without_password(url: str) -> str:
    """URLs go into the JSON and the table; a password must not."""
    scheme, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    if not at or ":" not in auth:
        return url
    return f"{scheme}{sep}{auth.split(':', 1)[0]}:***@{host}"


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
            skipped = runner.run(_stoppable(unavailable(options)))
            nlu = runner.run(_stoppable(nlu_timing()))
            for index in range(1, options.repeat + 1):
                began = time.perf_counter()
                print(f"repetition {index}/{options.repeat} ...", file=sys.stderr, flush=True)
                repetitions.append(runner.run(_stoppable(run_repetition(options, skipped))))
                took = time.perf_counter() - began
                print(f"  done in {took:.1f}s", file=sys.stderr, flush=True)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped, nothing written", file=sys.stderr)
        return 130
    config = asdict(options) | {
        "database_url": _without_password(options.database_url),
        "redis_url": _without_password(options.redis_url),
    }
    labels = {c.key: c.label for c in CONFIGS if c.key in options.configs}
    table, summary = render(config, info, labels, skipped, nlu, repetitions)
    print(table)
    output = Path(options.output)
    write_json(
        output,
        {
            "benchmark": "pipeline",
            "command": command_line(),
            "machine": info,
            "config": config,
            "skipped": skipped,
            "nlu": nlu,
            "summary": summary,
            "repetitions": repetitions,
            "table": table,
        },
    )
    print(f"\nJSON: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
