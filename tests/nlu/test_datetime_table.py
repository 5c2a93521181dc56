"""The date/time conventions of issue 5, as a table (tests/nlu/data/datetime_cases.yml)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlu.entities import EntityExtractor

TABLE = yaml.safe_load((Path(__file__).parent / "data" / "datetime_cases.yml").read_text("utf-8"))
DEFAULT_NOW = datetime.fromisoformat(TABLE["default_now"])
EXTRACTOR = EntityExtractor(timezone="Asia/Ho_Chi_Minh")


def _datetimes(text: str, now: datetime) -> list[dict[str, Any]]:
    return [e for e in EXTRACTOR.extract(text, now=now) if e["entity"] == "datetime"]


def _passes(case: dict[str, Any]) -> bool:
    now = datetime.fromisoformat(case["now"]) if "now" in case else DEFAULT_NOW
    found = _datetimes(case["text"], now)
    return len(found) == 1 and (found[0]["value"], found[0]["additional_info"]["grain"]) == (
        case["expect"],
        case["grain"],
    )


def test_table_is_large_and_bilingual() -> None:
    cases = TABLE["cases"]
    assert len(cases) >= 60
    english = [c for c in cases if c["text"].isascii() and " " in c["text"]]
    assert len(english) >= 20  # and the rest is Vietnamese, with and without diacritics


def test_table_pass_rate_meets_the_target() -> None:
    cases = TABLE["cases"]
    rate = sum(_passes(case) for case in cases) / len(cases)
    print(f"datetime table: {rate:.3f} of {len(cases)} expressions")
    assert rate >= 0.95


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: c["text"])
def test_expression(case: dict[str, Any]) -> None:
    now = datetime.fromisoformat(case["now"]) if "now" in case else DEFAULT_NOW
    found = _datetimes(case["text"], now)
    assert [(e["value"], e["additional_info"]["grain"]) for e in found] == [
        (case["expect"], case["grain"])
    ]


@pytest.mark.parametrize("text", TABLE["negatives"])
def test_no_datetime(text: str) -> None:
    assert _datetimes(text, DEFAULT_NOW) == []


def test_offsets_cross_a_daylight_saving_change_in_absolute_time() -> None:
    extractor = EntityExtractor(timezone="Europe/Berlin")
    now = datetime.fromisoformat("2026-10-25T01:30:00+02:00")  # clocks go back at 03:00
    (found,) = extractor.extract("in 2 hours", now=now)
    assert found["value"] == "2026-10-25T02:30:00+01:00"
