"""Writing export records as CSV, a JSON array or NDJSON, chunk by chunk.

CSV is UTF-8 with a byte-order mark: without it Excel reads the file as the legacy code page
and Vietnamese names turn into mojibake. Text cells that a spreadsheet would run as a formula
get a leading apostrophe (https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Neutralise a text cell that starts like a formula; numbers and empties pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_line(cells: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_safe(cell) for cell in cells])
    return buffer.getvalue()


async def csv_chunks(
    header: Iterable[str], rows: AsyncIterable[Iterable[Iterable[Any]]]
) -> AsyncIterator[str]:
    """BOM and header first, then one chunk per record (a record may span several lines)."""
    yield BOM + _csv_line(header)
    async for lines in rows:
        yield "".join(_csv_line(cells) for cells in lines)


async def json_array_chunks(records: AsyncIterable[dict[str, Any]]) -> AsyncIterator[str]:
    """A JSON array written element by element, so it never sits whole in memory."""
    separator = "[\n"
    async for record in records:
        yield separator + json.dumps(record, ensure_ascii=False)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


async def ndjson_chunks(records: AsyncIterable[dict[str, Any]]) -> AsyncIterator[str]:
    """One JSON object per line: readable by `jq`, pandas and line-by-line loaders."""
    async for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"
