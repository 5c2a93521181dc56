"""`nlu evaluate` metrics on hand-computed cases, and the CLI commands around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nlu.evaluate import Outcome, format_report, latency, score
from omnicrm.cli import app

runner = CliRunner()


def _outcome(expected: str, predicted: str, ms: float, style: str, **entities) -> Outcome:
    return Outcome(
        text=f"{expected}/{predicted}",
        expected=expected,
        predicted=predicted,
        confidence=0.5,
        seconds=ms / 1000,
        style=style,
        expected_entities=frozenset(entities.get("gold", ())),
        predicted_entities=frozenset(entities.get("guess", ())),
    )


OUTCOMES = [
    _outcome(
        "greet", "greet", 1, "en",
        gold={("phone", 0, 5), ("datetime", 6, 9)},
        guess={("phone", 0, 5), ("datetime", 6, 10), ("email", 1, 2)},
    ),
    _outcome("greet", "deny", 2, "en"),
    _outcome("deny", "deny", 3, "vi", guess={("phone", 2, 4)}),
    _outcome("out_of_scope", "out_of_scope", 4, "vi"),
    _outcome("out_of_scope", "greet", 5, "vi"),
    _outcome("deny", "deny", 6, "vi"),
]  # fmt: skip


def test_intent_metrics_by_hand() -> None:
    report = score(OUTCOMES, entity_types=["phone", "datetime"])
    assert report.accuracy == pytest.approx(4 / 6)
    greet, deny, oos = (report.per_intent[n] for n in ("greet", "deny", "out_of_scope"))
    # greet: 1 right of 2 predicted, 1 of 2 found.
    assert (greet.precision, greet.recall, greet.f1) == pytest.approx((0.5, 0.5, 0.5))
    # deny: 2 right of 3 predicted, both found: F1 = 2 * (2/3) / (5/3) = 0.8.
    assert (deny.precision, deny.recall, deny.f1) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (oos.precision, oos.recall, oos.f1) == pytest.approx((1.0, 0.5, 2 / 3))
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report.in_scope_accuracy == pytest.approx(3 / 4)
    assert report.oos_recall == pytest.approx(1 / 2)
    assert report.confusions == [("greet", "deny", 1), ("out_of_scope", "greet", 1)]
    assert report.per_style == {"en": (0.5, 2), "vi": (0.75, 4)}


def test_entity_metrics_by_hand() -> None:
    report = score(OUTCOMES, entity_types=["phone", "datetime"])
    # Right: the first phone. Predicted (scored types only): 2 phones + 1 datetime with a
    # wrong end. Annotated: 1 phone + 1 datetime. The email is not an annotated type.
    assert report.entity_precision == pytest.approx(1 / 3)
    assert report.entity_recall == pytest.approx(1 / 2)
    assert (report.per_entity["phone"].precision, report.per_entity["phone"].recall) == (0.5, 1)
    assert report.per_entity["datetime"].recall == 0
    assert score(OUTCOMES).entity_precision is None  # nothing annotated: n/a


def test_latency_percentiles_by_nearest_rank() -> None:
    lat = latency([0.001 * n for n in range(1, 7)])
    assert (lat.mean_ms, lat.p50_ms, lat.p99_ms) == pytest.approx((3.5, 3.0, 6.0))
    assert "p99 6.00 ms" in format_report(score(OUTCOMES))


def test_without_out_of_scope_data_there_is_no_oos_line() -> None:
    report = score([_outcome("greet", "greet", 1, "en")])
    assert report.oos_recall is None and report.in_scope_accuracy is None
    assert "out-of-scope recall" not in format_report(report)


TRAIN = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - xin chào
    - chào bạn
    - hello
    - hi there
- intent: pricing
  examples: |
    - giá bao nhiêu
    - bao nhiêu tiền
    - how much is it
    - price list please
- intent: provide_contact
  examples: |
    - số của tôi là [0912 345 678](phone)
    - my number is [0987 654 321](phone)
    - sđt [0903 111 222](phone)
"""
TEST = """version: "3.1"
nlu:
- intent: greet
  metadata: {style: vi_diacritics}
  examples: |
    - chào bạn nhé
- intent: pricing
  metadata: {style: en}
  examples: |
    - how much does it cost
- intent: provide_contact
  metadata: {style: vi_shorthand}
  examples: |
    - sđt mình [0977 888 999](phone)
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("OMNICRM_NLU_CACHE_DIR", str(tmp_path / "cache"))
    train, test = tmp_path / "train.yml", tmp_path / "test.yml"
    train.write_text(TRAIN, encoding="utf-8")
    test.write_text(TEST, encoding="utf-8")
    return train, test


def test_evaluate_cli_prints_scores_and_writes_report(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = files
    out = tmp_path / "report.json"
    args = ["nlu", "evaluate", "--train", str(train), "--data", str(test), "--report", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "embeddings=always" in result.output
    for line in ("intent accuracy", "macro-F1", "entity precision", "p99", "vi_shorthand"):
        assert line in result.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [row["text"] for row in rows] == [
        "chào bạn nhé",
        "how much does it cost",
        "sđt mình 0977 888 999",
    ]
    assert all({"text", "expected", "predicted", "confidence"} <= set(row) for row in rows)
    assert rows[2]["expected"] == "provide_contact"


def test_evaluate_cli_json(files: tuple[Path, Path]) -> None:
    train, test = files
    args = ["nlu", "evaluate", "--train", str(train), "--data", str(test), "--json"]
    result = runner.invoke(app, [*args, "--embeddings", "never"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["examples"] == 3 and body["embeddings"] == "never"
    assert body["entity_recall"] == 1.0  # the phone span is found exactly
    assert set(body["per_style"]) == {"vi_diacritics", "en", "vi_shorthand"}
    assert body["out_of_scope_recall"] is None


def test_evaluate_cli_refuses_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["nlu", "evaluate", "--data", str(tmp_path / "nope.yml")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_parse_cli_takes_now() -> None:
    now = "2026-11-20T10:00:00+07:00"
    result = runner.invoke(app, ["nlu", "parse", "đặt lịch 9h sáng mai", "--now", now])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["intent"]["name"] == "book_consultation"
    assert {"entity": "datetime", "value": "2026-11-21T09:00:00+07:00"}.items() <= next(
        e for e in body["entities"] if e["entity"] == "datetime"
    ).items()


def test_export_rasa_writes_a_rasa_project(tmp_path: Path) -> None:
    result = runner.invoke(app, ["nlu", "export-rasa", str(tmp_path / "rasa")])
    assert result.exit_code == 0, result.output
    project = tmp_path / "rasa"
    config = yaml.safe_load((project / "config.yml").read_text(encoding="utf-8"))
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    nlu = yaml.safe_load((project / "data" / "nlu.yml").read_text(encoding="utf-8"))
    assert config["recipe"] == "default.v1" and config["language"] == "vi"
    assert {"WhitespaceTokenizer", "CountVectorsFeaturizer", "DIETClassifier"} <= {
        step["name"] for step in config["pipeline"]
    }
    assert len(domain["intents"]) == 16 and "request_human" in domain["intents"]
    assert set(domain["entities"]) == {"datetime", "email", "order_id", "phone", "service"}
    intents = {block["intent"] for block in nlu["nlu"] if "intent" in block}
    assert intents == set(domain["intents"])
    assert any(block.get("lookup") == "service" for block in nlu["nlu"])
    assert any("](phone)" in block.get("examples", "") for block in nlu["nlu"])
