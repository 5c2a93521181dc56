"""The FAQ knowledge base over REST: agents read and try it, supervisors and up change it.

Every write refreshes this process's bot book at once; other processes follow within seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import faq_store
from crm_core.models import FaqEntry
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(prefix="/faq", tags=["faq"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
Question = Annotated[str, Field(min_length=1, max_length=300)]


class FaqOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    questions: list[str]
    answer_vi: str
    answer_en: str
    offer_human: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class FaqIn(BaseModel):
    """A new entry: phrasings in any language (diacritics optional) and the answers."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=faq_store.KEY_PATTERN.pattern, description="the intent faq/<key>")
    questions: list[Question] = Field(min_length=1, max_length=100)
    answer_vi: str = Field(default="", max_length=4000)
    answer_en: str = Field(default="", max_length=4000)
    offer_human: bool = False
    active: bool = True


class FaqPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question] | None = Field(default=None, min_length=1, max_length=100)
    answer_vi: str | None = Field(default=None, max_length=4000)
    answer_en: str | None = Field(default=None, max_length=4000)
    offer_human: bool | None = None
    active: bool | None = None


class FaqMatchOut(BaseModel):
    key: str | None
    score: float | None
    answer: str | None


@router.get("", response_model=Page[FaqOut])
async def list_faq(
    _: AgentDep,
    session: SessionDep,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Oldest first; `active` filters active or deactivated entries."""
    stmt = select(FaqEntry)
    if active is not None:
        stmt = stmt.where(FaqEntry.active.is_(active))
    return await pagination.fetch(
        session, stmt, FaqEntry, cursor=cursor, limit=limit, descending=False
    )


@router.get("/match", response_model=FaqMatchOut)
async def match_faq(
    _: AgentDep,
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    language: Annotated[str, Query(pattern="^(vi|en)$")] = "vi",
) -> dict[str, object]:
    """What the bot would answer to `q` right now (nulls: below the confidence threshold)."""
    found = runtime.faq.book.search(q)
    if found is None:
        return {"key": None, "score": None, "answer": None}
    return {"key": found.entry.id, "score": found.score, "answer": found.entry.answer(language)}


@router.get("/{key}", response_model=FaqOut)
async def get_faq(key: str, _: AgentDep, session: SessionDep) -> FaqEntry:
    return await _entry(session, key)


@router.post("", response_model=FaqOut, status_code=status.HTTP_201_CREATED)
async def create_faq(body: FaqIn, _: SupervisorDep, runtime: RuntimeDep) -> FaqEntry:
    record = faq_store.FaqRecord(**{**body.model_dump(), "questions": tuple(body.questions)})
    _check(record)
    async with runtime.db.transaction() as session:
        if await faq_store.get(session, body.key) is not None:
            raise ApiError(409, "conflict", f"FAQ key {body.key!r} exists; PATCH it instead")
        row = faq_store.new_row(record)
        session.add(row)
    await runtime.faq.refresh()
    return row


@router.patch("/{key}", response_model=FaqOut)
async def update_faq(key: str, body: FaqPatch, _: SupervisorDep, runtime: RuntimeDep) -> FaqEntry:
    given = body.model_dump(exclude_unset=True)
    if any(value is None for value in given.values()):
        raise ApiError(422, "validation_error", "fields must not be null")
    async with runtime.db.transaction() as session:
        row = await _entry(session, key)
        current = {
            "key": row.key,
            "questions": tuple(given.pop("questions", row.questions)),
            "answer_vi": row.answer_vi,
            "answer_en": row.answer_en,
            "offer_human": row.offer_human,
            "active": row.active,
        }
        record = faq_store.FaqRecord(**{**current, **given})
        _check(record)
        faq_store.apply(row, record)
    await runtime.faq.refresh()
    return row


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_faq(key: str, _: SupervisorDep, runtime: RuntimeDep) -> Response:
    """Remove an entry for good (PATCH `active: false` keeps it for later)."""
    async with runtime.db.transaction() as session:
        await session.delete(await _entry(session, key))
    await runtime.faq.refresh()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _entry(session: AsyncSession, key: str) -> FaqEntry:
    row = await faq_store.get(session, key)
    if row is None:
        raise ApiError(404, "not_found", "no FAQ entry with that key")
    return row


def _check(record: faq_store.FaqRecord) -> None:
    try:
        record.check()
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc
