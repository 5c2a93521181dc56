"""The `omnicrm` command line: serve, demo, migrate, keys, users, NLU and Telegram set-up."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, TextIO, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.exc import DBAPIError

from crm_core.enums import Channel, ConversationStatus, Role
from omnicrm import commands
from omnicrm.settings import Settings

app = typer.Typer(
    help="omnicrm: omnichannel conversational CRM bot platform.", no_args_is_help=True
)
apikey_app = typer.Typer(help="Manage REST API keys.", no_args_is_help=True)
users_app = typer.Typer(help="Manage console users.", no_args_is_help=True)
nlu_app = typer.Typer(help="Natural-language understanding tools.", no_args_is_help=True)
telegram_app = typer.Typer(help="Telegram channel set-up.", no_args_is_help=True)
email_app = typer.Typer(help="E-mail channel tools.", no_args_is_help=True)
automation_app = typer.Typer(
    help="Reminders, confirmations, receipts and no-shows.", no_args_is_help=True
)
faq_app = typer.Typer(help="The FAQ knowledge base the bot answers from.", no_args_is_help=True)
export_app = typer.Typer(
    help="Audited exports of conversations and transcripts.", no_args_is_help=True
)
app.add_typer(apikey_app, name="apikey")
app.add_typer(users_app, name="users")
app.add_typer(nlu_app, name="nlu")
corrections_app = typer.Typer(
    help="Bot turns reviewers flagged with the right intent.", no_args_is_help=True
)
nlu_app.add_typer(corrections_app, name="corrections")
app.add_typer(telegram_app, name="telegram")
app.add_typer(email_app, name="email")
app.add_typer(automation_app, name="automation")
app.add_typer(faq_app, name="faq")
app.add_typer(export_app, name="export")
customers_app = typer.Typer(
    help="Data-subject requests: export or erase one customer (audited).", no_args_is_help=True
)
app.add_typer(customers_app, name="customers")
dlq_app = typer.Typer(help="Dead letters of the Redis bus: list and replay.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

T = TypeVar("T")
RoleOption = Annotated[Role, typer.Option("--role", help="agent, supervisor or admin")]


def _run(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(make())
    except commands.CommandError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except (OSError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        typer.echo(f"error: database problem: {reason} (is it reachable and migrated?)", err=True)
        raise typer.Exit(code=1) from exc


def _settings() -> Settings:
    """Settings from the environment; a bad value is one clear line, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            if not error["loc"]:  # a rule across settings names them itself
                typer.echo(f"error: {error['msg'].removeprefix('Value error, ')}", err=True)
                continue
            name = "OMNICRM_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"error: invalid setting {name}: {error['msg']}", err=True)
        raise typer.Exit(code=2) from exc


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="with Redis: also consume the bus here")
    ] = False,
) -> None:
    """Run the web app with the in-process worker, dispatcher, handoff clock and automation.

    With OMNICRM_REDIS_URL set it is web only (run `omnicrm worker`), unless --with-worker.
    """
    settings = _settings()
    _logging(settings)
    commands.serve(settings, host=host, port=port, with_worker=with_worker)


@app.command()
def worker() -> None:
    """Run only the worker: consumes the bus (or polls the inbox) and sends the outbox."""
    settings = _settings()
    _logging(settings)
    _run(lambda: commands.run_worker(settings))


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(help="at most this many, oldest first")] = 1000,
) -> None:
    """Show the events the Redis bus gave up on after too many deliveries."""
    settings = _settings()
    rows = _run(lambda: commands.dlq_list(settings, limit=limit))
    for row in rows:
        when = row.dead_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{row.id}  {when}  event={row.event_id or '-'}  deliveries={row.deliveries}  "
            f"{row.reason}"
        )
    typer.echo(f"{len(rows)} dead letter(s)")


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[
        list[str] | None, typer.Argument(help="dead-letter ids (from `dlq list`)")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="replay every dead letter")] = False,
) -> None:
    """Publish dead letters to their stream again and remove them from the dead letters."""
    if bool(ids) == replay_all:
        typer.echo("error: give dead-letter ids or --all (not both)", err=True)
        raise typer.Exit(code=2)
    settings = _settings()
    done = _run(lambda: commands.dlq_replay(settings, None if replay_all else list(ids or [])))
    typer.echo(f"{done} dead letter(s) replayed")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    settings = _settings()
    _run(lambda: commands.migrate(settings))
    typer.echo(f"database at head: {commands.safe_url(settings.database_url)}")


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo data (catalogue, customers, purchases, conversations, an agent) once."""
    settings = _settings()
    created = _run(lambda: commands.seed_demo(settings))
    typer.echo("demo data loaded" if created else "demo data already present")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
) -> None:
    """Migrate, seed the demo data, print the URLs and an admin key, then serve."""
    settings = _settings()
    _logging(settings)
    key = _run(lambda: commands.prepare_demo(settings))
    base = f"http://{host}:{port}"
    typer.echo("")
    typer.echo("omnicrm demo is starting")
    typer.echo(f"  web chat:     {base}/webchat")
    typer.echo(f"  console:      {base}/console")
    typer.echo(f"  API docs:     {base}/docs")
    typer.echo(f"  health:       {base}/healthz")
    typer.echo(f"  demo agent:   {commands.DEMO_AGENT_EMAIL} / {commands.DEMO_AGENT_PASSWORD}")
    typer.echo(f"  admin API key (Authorization: Bearer ...): {key}")
    typer.echo("")
    commands.serve(settings, host=host, port=port)


@apikey_app.command("create")
def apikey_create(
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="who or what uses the key")],
) -> None:
    """Create an API key; the key is printed once, as the last line."""
    settings = _settings()
    key = _run(lambda: commands.create_api_key(settings, name=name, role=role))
    typer.echo(f"created {role.value} key '{name}' (store it now; it is not shown again)")
    typer.echo(key)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="login e-mail")],
    role: RoleOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="display name")] = None,
    languages: Annotated[
        str, typer.Option("--languages", help="comma-separated, e.g. 'vi,en' (empty: any)")
    ] = "",
    skills: Annotated[
        str, typer.Option("--skills", help="comma-separated routing skills, e.g. 'complaints'")
    ] = "",
    slack_user: Annotated[
        str | None, typer.Option("--slack-user", help="the Slack user id this agent answers as")
    ] = None,
    available: Annotated[
        bool, typer.Option("--available", help="start available for round-robin assignment")
    ] = False,
) -> None:
    """Create a console login (agent, supervisor or admin)."""
    if not password_stdin:
        typer.echo("error: pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(code=2)
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        typer.echo("error: the password must have at least 8 characters", err=True)
        raise typer.Exit(code=2)
    settings = _settings()
    user_id = _run(
        lambda: commands.create_user(
            settings,
            email=email,
            role=role,
            password=password,
            name=name,
            routing=commands.Routing(
                languages=_labels(languages),
                skills=_labels(skills),
                slack_user_id=slack_user,
                available=available,
            ),
        )
    )
    typer.echo(f"created {role.value} {email.strip().lower()} ({user_id})")


def _labels(text: str) -> list[str]:
    return sorted({part.strip().lower() for part in text.split(",") if part.strip()})


NowOption = Annotated[
    str | None, typer.Option("--now", help="reference instant for dates, ISO-8601")
]


def _now(value: str | None) -> datetime | None:
    """The --now option as an aware datetime (naive means the configured time zone)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"error: --now {value!r} is not an ISO-8601 date/time", err=True)
        raise typer.Exit(code=2) from exc


def _entities(settings: Settings):  # -> nlu.entities.EntityExtractor, imported lazily
    """The entity extractor for the configured zone and region."""
    from nlu.entities import EntityExtractor

    return EntityExtractor(timezone=settings.timezone, default_region=settings.default_region)


@nlu_app.command("parse")
def nlu_parse(
    text: Annotated[str, typer.Argument(help="the text to understand")],
    now: NowOption = None,
) -> None:
    """Print the parse of TEXT as JSON (Rasa's /model/parse shape)."""
    from nlu import BuiltinNLU

    settings = _settings()
    # A one-off command waits for the whole engine (and caches it) rather than the fast branch.
    nlu = BuiltinNLU(
        entities=_entities(settings),
        default_language=settings.default_language,
        background=False,
    )
    result = nlu.parse(text, now=_now(now))
    typer.echo(json.dumps(result.to_rasa(), ensure_ascii=False, indent=2))


@nlu_app.command("evaluate")
def nlu_evaluate(
    data: Annotated[Path, typer.Option("--data", help="Rasa NLU YAML to score on")],
    train: Annotated[
        Path | None, typer.Option("--train", help="train a fresh engine on this file first")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as JSON")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="write per-example results (JSON list)")
    ] = None,
    embeddings: Annotated[
        str | None,
        typer.Option(
            "--embeddings",
            help="auto | always | never (default: auto; always with --train)",
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Score the built-in engine on FILE: intents, entities, latency (and per style)."""
    from nlu.evaluate import evaluate_files, format_report

    if embeddings not in (None, "auto", "always", "never"):
        typer.echo("error: --embeddings must be auto, always or never", err=True)
        raise typer.Exit(code=2)
    for path in (data, train):
        if path is not None and not path.is_file():
            typer.echo(f"error: no such file: {path}", err=True)
            raise typer.Exit(code=2)
    settings = _settings()
    try:
        result = evaluate_files(
            data,
            train=train,
            embeddings=embeddings or ("always" if train else "auto"),
            entities=_entities(settings),
            default_language=settings.default_language,
            now=_now(now),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if report is not None:
        rows = [outcome.to_json() for outcome in result.outcomes]
        report.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(result.summary_line())
        typer.echo(format_report(result.report))


@nlu_app.command("export-rasa")
def nlu_export_rasa(
    directory: Annotated[Path, typer.Argument(help="where to write the Rasa project")],
    data: Annotated[
        Path | None, typer.Option("--data", help="training data (default: the shipped data)")
    ] = None,
) -> None:
    """Write nlu.yml, config.yml and domain.yml so `rasa train nlu` trains on our data."""
    from nlu.builtin import shipped_training_data
    from nlu.rasa_yaml import read_nlu, write_rasa_project

    settings = _settings()
    training = read_nlu(data) if data else shipped_training_data()
    written = write_rasa_project(training, directory, language=settings.default_language)
    for path in written:
        typer.echo(str(path))


@corrections_app.command("export")
def nlu_corrections_export(
    out: OutOption = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="only those flagged since, ISO-8601 (naive: TIMEZONE)"),
    ] = None,
) -> None:
    """Write the NLU corrections as Rasa NLU YAML, one block per correct intent."""
    from nlu.rasa_yaml import dump_nlu

    settings = _settings()
    start = _since(since, settings.timezone)
    data = _run(lambda: _corrections(settings, start))
    text = dump_nlu(data)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    where = str(out) if out else "stdout"
    typer.echo(
        f"exported {len(data.examples)} corrections ({len(data.intents)} intents) to {where}",
        err=True,
    )


async def _corrections(settings: Settings, since: datetime | None):  # -> nlu.rasa_yaml.NluData
    """Corrections as training examples: one per distinct (intent, text), oldest first."""
    from crm_core.db import Database
    from crm_core.qa import all_corrections
    from nlu.rasa_yaml import Example, NluData

    db = Database(settings.database_url)
    try:
        async with db.reading() as session:
            rows = await all_corrections(session, since=since)
    finally:
        await db.dispose()
    examples: dict[tuple[str, str], Example] = {}
    for row in rows:
        text = _example_text(row.text)
        if text:
            examples.setdefault((row.correct_intent, text), Example(text, row.correct_intent))
    ordered = sorted(examples.values(), key=lambda example: example.intent)
    return NluData(examples=tuple(ordered))


def _since(value: str | None, timezone: str) -> datetime | None:
    """--since as an aware datetime (a naive one is in the configured time zone)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"error: --since {value!r} is not an ISO-8601 date/time", err=True)
        raise typer.Exit(code=2) from exc
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(timezone))


def _example_text(text: str) -> str:
    """One line of plain text: Rasa would read `[x](y)` as an entity, so it is taken apart."""
    line = " ".join(text.split())
    return line.replace("](", "] (").replace("]{", "] {")


@telegram_app.command("set-webhook")
def telegram_set_webhook() -> None:
    """Register PUBLIC_URL/webhooks/telegram with Telegram, with the secret token."""
    settings = _settings()
    url = _run(lambda: commands.set_telegram_webhook(settings))
    typer.echo(f"telegram webhook set to {url}")


@email_app.command("poll")
def email_poll(
    once: Annotated[bool, typer.Option("--once", help="poll one time and exit")] = False,
) -> None:
    """Fetch new mail from the IMAP mailbox into the inbox (once, or every IMAP_POLL_SECONDS)."""
    settings = _settings()
    _logging(settings)
    count = _run(lambda: commands.poll_email(settings, once=once))
    typer.echo(f"stored {count} new mails")


@faq_app.command("import")
def faq_import(
    file: Annotated[Path, typer.Argument(help="FAQ YAML (the format of conversations/faq.yml)")],
    replace: Annotated[
        bool, typer.Option("--replace", help="deactivate entries whose key is not in FILE")
    ] = False,
) -> None:
    """Upsert FILE's entries by key and print what changed."""
    settings = _settings()
    counts = _run(lambda: commands.import_faq(settings, file, replace=replace))
    typer.echo(f"faq import: {counts.summary()}")


@automation_app.command("run-due")
def automation_run_due(
    now: Annotated[
        str | None,
        typer.Option("--now", help="the instant to act at, ISO-8601 (naive: TIMEZONE)"),
    ] = None,
) -> None:
    """Queue and send what is due now (or at --now); safe from cron and to run twice."""
    settings = _settings()
    _logging(settings)
    when = _now(now)
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(settings.timezone))
    report, attempted = _run(lambda: commands.automation_run_due(settings, now=when))
    typer.echo(f"{'kind':<20}{'queued':>8}{'skipped':>9}{'deferred':>10}{'marked':>8}")
    for kind, queued, skipped, deferred, marked in report.rows():
        typer.echo(f"{kind:<20}{queued:>8}{skipped:>9}{deferred:>10}{marked:>8}")
    for outcome in report.queued:
        typer.echo(f"queued {outcome.key} via {outcome.channel} ({outcome.message_id})")
    typer.echo(f"queued {report.total_queued} messages; outbox attempted {attempted}")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


FromOption = Annotated[str, typer.Option("--from", help="first local day, YYYY-MM-DD")]
ToOption = Annotated[str, typer.Option("--to", help="last local day (inclusive), YYYY-MM-DD")]
FormatOption = Annotated[ExportFormat, typer.Option("--format", help="csv or json")]
OutOption = Annotated[Path | None, typer.Option("--out", help="file to write (default stdout)")]
ChannelOption = Annotated[Channel | None, typer.Option("--channel", help="only this channel")]
StatusOption = Annotated[
    ConversationStatus | None, typer.Option("--status", help="only this status")
]


@export_app.command("transcripts")
def export_transcripts(
    first: FromOption,
    last: ToOption,
    fmt: FormatOption = ExportFormat.CSV,
    out: OutOption = None,
    channel: ChannelOption = None,
    status: StatusOption = None,
) -> None:
    """Conversations created on those days with every message (CSV: a row per message; JSON:
    NDJSON, a line per conversation)."""
    _export("transcripts", fmt, first, last, out, channel, status)


@export_app.command("conversations")
def export_conversations(
    first: FromOption,
    last: ToOption,
    fmt: FormatOption = ExportFormat.CSV,
    out: OutOption = None,
    channel: ChannelOption = None,
    status: StatusOption = None,
) -> None:
    """One row per conversation created on those days (CSV, or a JSON array)."""
    _export("conversations", fmt, first, last, out, channel, status)


def _export(
    kind: Literal["conversations", "transcripts"],
    fmt: ExportFormat,
    first: str,
    last: str,
    out: Path | None,
    channel: Channel | None,
    status: ConversationStatus | None,
) -> None:
    settings = _settings()
    request = commands.ExportRequest(
        kind=kind,
        fmt="json" if fmt is ExportFormat.JSON else "csv",
        first=_day("--from", first),
        last=_day("--to", last),
        channel=channel.value if channel else None,
        status=status.value if status else None,
    )
    total = _write_export(settings, request, out)
    where = str(out) if out else "stdout"
    typer.echo(f"exported {total} conversations ({kind}, {fmt.value}) to {where}", err=True)


def _write_export(settings: Settings, request: commands.ExportRequest, out: Path | None) -> int:
    """Stream to --out (via a .part file renamed at the end) or stdout, with a progress bar
    on stderr when it is a terminal (piped output stays clean)."""
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"exporting {request.kind}", total=None)

        def run(sink: TextIO) -> int:
            return _run(
                lambda: commands.export(
                    settings,
                    request,
                    sink=sink,
                    on_start=lambda total: bar.update(task, total=total),
                    on_record=lambda: bar.advance(task),
                )
            )

        if out is None:
            return run(sys.stdout)
        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("w", encoding="utf-8", newline="") as sink:
                total = run(sink)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(out)
        return total


@customers_app.command("export")
def customers_export(
    customer_id: Annotated[str, typer.Argument(help="the customer's id")],
    out: OutOption = None,
) -> None:
    """Everything held about the customer as JSON (to --out, or stdout)."""
    from omnicrm import customer_commands

    settings = _settings()
    body = _run(lambda: customer_commands.export(settings, customer_id))
    if out is None:
        sys.stdout.write(body)
    else:
        out.write_text(body, encoding="utf-8")
    typer.echo(f"exported customer {customer_id} to {out or 'stdout'} (audited)", err=True)


@customers_app.command("erase")
def customers_erase(
    customer_id: Annotated[str, typer.Argument(help="the customer's id")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
) -> None:
    """Erase the customer's personal data for good, keeping a record without it."""
    from omnicrm import customer_commands

    if not yes:
        typer.echo("error: erasure cannot be undone; pass --yes to confirm", err=True)
        raise typer.Exit(code=2)
    settings = _settings()
    result = _run(lambda: customer_commands.erase(settings, customer_id))
    if result.already_erased:
        typer.echo(f"customer {customer_id} was already erased")
        return
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(result.counts.items()))
    typer.echo(f"erased customer {customer_id}: {counts}")


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"error: {option} {value!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(code=2) from exc


def main() -> None:
    app()
