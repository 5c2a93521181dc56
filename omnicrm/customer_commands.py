"""`omnicrm customers export|erase`: data-subject requests from the command line (audited as
actor "cli" with the operating-system login)."""

from __future__ import annotations

import getpass
import json

from crm_core.db import Database
from crm_core.erasure import ErasureResult, erase_customer
from crm_core.privacy import ActorRef, CustomerNotFound, export_customer
from omnicrm.commands import CommandError
from omnicrm.settings import Settings


def _actor() -> ActorRef:
    try:
        login: str | None = getpass.getuser()[:64]
    except (OSError, KeyError):
        login = None
    return ActorRef(kind="cli", id=login)


async def export(settings: Settings, customer_id: str) -> str:
    """The customer's export as JSON text (the caller writes it where asked)."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            document = await export_customer(session, customer_id, actor=_actor())
    except CustomerNotFound as exc:
        raise CommandError(f"no customer with id {customer_id}") from exc
    finally:
        await db.dispose()
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


async def erase(settings: Settings, customer_id: str) -> ErasureResult:
    """Erase the customer's personal data (safe to repeat)."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await erase_customer(session, customer_id, _actor())
    except CustomerNotFound as exc:
        raise CommandError(f"no customer with id {customer_id}") from exc
    finally:
        await db.dispose()
