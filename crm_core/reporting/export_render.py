"""One entry point from (kind, format) to text chunks, shared by the REST route and the CLI.

Conversations in JSON are an array (one document, what a browser download expects);
transcripts in JSON are NDJSON, one conversation per line, since a transcript export can be
large and line-by-line tools can read it without loading it whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import tzinfo
from typing import Literal, TypeVar

from crm_core.db import Database
from crm_core.reporting import export
from crm_core.reporting.export_format import csv_chunks, json_array_chunks, ndjson_chunks
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_rows import COLUMNS
from crm_core.reporting.export_transcripts import CSV_COLUMNS

T = TypeVar("T")
Kind = Literal["conversations", "transcripts"]
Format = Literal["csv", "json"]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
NDJSON_MEDIA_TYPE = "application/x-ndjson"


def media_type(kind: Kind, fmt: Format) -> str:
    if kind == "transcripts" and fmt == "json":
        return NDJSON_MEDIA_TYPE
    return MEDIA_TYPES[fmt]


def render(
    db: Database,
    query: ExportQuery,
    *,
    kind: Kind,
    fmt: Format,
    zone: tzinfo,
    on_record: Callable[[], None] | None = None,
) -> AsyncIterator[str]:
    """Text chunks of the export; `on_record` is called once per conversation (progress)."""
    tick = on_record or (lambda: None)
    if kind == "conversations":
        rows = export.conversation_rows(db, query, zone=zone)
        if fmt == "csv":
            return csv_chunks(COLUMNS, ([row.as_csv()] async for row in _ticked(rows, tick)))
        return json_array_chunks(row.as_json() async for row in _ticked(rows, tick))
    items = export.transcripts(db, query, zone=zone)
    if fmt == "csv":
        return csv_chunks(CSV_COLUMNS, (t.csv_rows() async for t in _ticked(items, tick)))
    return ndjson_chunks(t.as_json() async for t in _ticked(items, tick))


async def _ticked(items: AsyncIterator[T], tick: Callable[[], None]) -> AsyncIterator[T]:
    async for item in items:
        tick()
        yield item
