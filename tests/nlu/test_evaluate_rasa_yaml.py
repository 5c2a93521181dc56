"""Rasa NLU YAML: annotations are stripped with exact spans, and what we write reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.rasa_yaml import (
    AnnotatedEntity,
    Example,
    NluData,
    annotate,
    dump_nlu,
    parse_annotated,
    read_nlu,
)
from nlu.text import normalize


def test_parse_annotated_short_form_gives_spans_in_plain_text() -> None:
    text, entities = parse_annotated("gọi [0912 345 678](phone) hoặc mail [a@b.vn](email) nhé")
    assert text == "gọi 0912 345 678 hoặc mail a@b.vn nhé"
    assert entities == (
        AnnotatedEntity("phone", 4, 16, "0912 345 678"),
        AnnotatedEntity("email", 27, 33, "a@b.vn"),
    )
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


def test_parse_annotated_json_form_keeps_value() -> None:
    text, entities = parse_annotated('đặt lịch [mai]{"entity": "datetime", "value": "tomorrow"} ạ')
    assert text == "đặt lịch mai ạ"
    assert entities == (AnnotatedEntity("datetime", 9, 12, "mai", "tomorrow"),)


def test_parse_annotated_rasa1_value_form_and_plain_text() -> None:
    assert parse_annotated("[Sài Gòn](city:HCMC)")[1] == (
        AnnotatedEntity("city", 0, 7, "Sài Gòn", "HCMC"),
    )
    assert parse_annotated("không có gì [ở đây") == ("không có gì [ở đây", ())


@pytest.mark.parametrize("line", ['[x]{"value": 1}', "[x]()", '[x]{"entity": }'])
def test_bad_annotations_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        parse_annotated(line)


def test_read_nlu_both_example_forms_metadata_synonyms_lookups(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: yes\n"  # YAML 1.1 would read this as True; Rasa (YAML 1.2) does not
        "  metadata: {style: en}\n"
        "  examples: |\n"
        "    - yes please\n"
        "    - sure\n"
        "- intent: book\n"
        "  examples:\n"
        "  - text: |\n"
        "      book [mai](datetime)\n"
        "    metadata:\n"
        "      style: vi_diacritics\n"
        "- synonym: massage_body\n"
        "  examples: |\n"
        "    - mát xa\n"
        "- lookup: service\n"
        "  examples: |\n"
        "    - facial\n",
        encoding="utf-8",
    )
    data = read_nlu(path)
    assert [(e.text, e.intent, dict(e.metadata)) for e in data.examples] == [
        ("yes please", "yes", {"style": "en"}),
        ("sure", "yes", {"style": "en"}),
        ("book mai", "book", {"style": "vi_diacritics"}),
    ]
    assert data.examples[2].entities == (AnnotatedEntity("datetime", 5, 8, "mai"),)
    assert data.intents == ("yes", "book")
    assert data.entity_types == ("datetime",)
    assert data.synonyms == {"massage_body": ("mát xa",)}
    assert data.lookups == {"service": ("facial",)}


def test_dump_then_read_round_trips(tmp_path: Path) -> None:
    original = NluData(
        examples=(
            Example(
                "gọi 0912 345 678 nhé",
                "provide_contact",
                (AnnotatedEntity("phone", 4, 16, "0912 345 678"),),
            ),
            Example("mai nhé", "book", (AnnotatedEntity("datetime", 0, 3, "mai", "tomorrow"),)),
            Example("no", "no"),
        ),
        lookups={"service": ("facial",)},
    )
    assert annotate(original.examples[1]) == '[mai]{"entity": "datetime", "value": "tomorrow"} nhé'
    path = tmp_path / "nlu.yml"
    path.write_text(dump_nlu(original), encoding="utf-8")
    again = read_nlu(path)
    assert [(e.text, e.intent, e.entities) for e in again.examples] == [
        (e.text, e.intent, e.entities) for e in original.examples
    ]
    assert again.lookups == {"service": ("facial",)}


def test_shipped_data_is_readable_and_complete() -> None:
    from nlu.builtin import heldout_data_path, shipped_training_data

    intents = {
        "greet", "goodbye", "thank", "affirm", "deny", "book_consultation",
        "reschedule_appointment", "cancel_appointment", "complaint", "request_human",
        "order_status", "product_info", "pricing", "provide_contact", "opt_out", "out_of_scope",
    }  # fmt: skip
    train, heldout = shipped_training_data(), read_nlu(heldout_data_path())
    assert set(train.intents) == intents == set(heldout.intents)
    styles = {"vi_diacritics", "vi_no_diacritics", "vi_shorthand", "en"}
    assert {e.metadata.get("style") for e in heldout.examples} == styles
    for intent in intents:
        assert {e.metadata["style"] for e in heldout.examples if e.intent == intent} == styles
    # Held-out lines are never training lines, not even with other diacritics or shorthand.
    trained = {normalize(e.text) for e in train.examples}
    assert not {normalize(e.text) for e in heldout.examples} & trained
    for example in train.examples + heldout.examples:
        for entity in example.entities:
            assert example.text[entity.start : entity.end] == entity.text
