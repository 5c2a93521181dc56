"""The `omnicrm` command line: serve, demo, migrate, keys, users, NLU and Telegram set-up."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from crm_core.enums import Role
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
app.add_typer(apikey_app, name="apikey")
app.add_typer(users_app, name="users")
app.add_typer(nlu_app, name="nlu")
app.add_typer(telegram_app, name="telegram")
app.add_typer(email_app, name="email")

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
) -> None:
    """Run the web app with the in-process worker, dispatcher and (later) scheduler."""
    settings = _settings()
    _logging(settings)
    commands.serve(settings, host=host, port=port)


@app.command()
def worker() -> None:
    """Run only the worker: processes stored inbox events and sends the outbox (no web)."""
    settings = _settings()
    _logging(settings)
    _run(lambda: commands.run_worker(settings))


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
            settings, email=email, role=role, password=password, name=name
        )
    )
    typer.echo(f"created {role.value} {email.strip().lower()} ({user_id})")


@nlu_app.command("parse")
def nlu_parse(text: Annotated[str, typer.Argument(help="the text to understand")]) -> None:
    """Print the parse of TEXT as JSON (Rasa's /model/parse shape)."""
    from nlu import BuiltinNLU

    typer.echo(json.dumps(BuiltinNLU().parse(text).to_rasa(), ensure_ascii=False, indent=2))


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


def main() -> None:
    app()
