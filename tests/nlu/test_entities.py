"""Entity extractors: what each one finds, what it must not, and the shape of the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from nlu.entities import DEFAULT_SERVICES, EntityExtractor

NOW = datetime.fromisoformat("2026-11-20T10:00:00+07:00")


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor()


def found(extractor: EntityExtractor, text: str, entity: str) -> list[tuple[str, str]]:
    """(value, the text the span covers) of every entity of one kind."""
    return [
        (e["value"], text[e["start"] : e["end"]])
        for e in extractor.extract(text, now=NOW)
        if e["entity"] == entity
    ]


@pytest.mark.parametrize(
    ("text", "value", "covered"),
    [
        ("sđt của mình 0912 345 678 nhé", "+84912345678", "0912 345 678"),
        ("gọi +84 912-345-678 giúp em", "+84912345678", "+84 912-345-678"),
        ("84912345678", "+84912345678", "84912345678"),
        ("số mình là 0912.345.678", "+84912345678", "0912.345.678"),
        ("call me on 0987654321 please", "+84987654321", "0987654321"),
        ("máy bàn 028 3822 1234", "+842838221234", "028 3822 1234"),
        ("my UK number is +44 20 7946 0958", "+442079460958", "+44 20 7946 0958"),
    ],
)
def test_phones_are_e164_with_vietnam_as_default_region(
    extractor: EntityExtractor, text: str, value: str, covered: str
) -> None:
    assert found(extractor, text, "phone") == [(value, covered)]


@pytest.mark.parametrize(
    "text",
    [
        "giá 1.500.000đ",
        "gói này 1,500,000 VND",
        "combo 2tr thôi",
        "chuyển khoản 500k",
        "tổng 1500000 đồng",
        "price $1,200,000",
        "stk 0912345678 vietcombank",
        "số tài khoản: 0071000123456",
        "chuyển vào tk 19034567890123 techcombank",
        "account number 0912345678",
        "MST 0101234567",
        "mã số thuế: 0101234567-001",
        "tax code 0312345678",
        "chi nhánh 0101234567-001",
        "cccd 001088012345",
        "đơn hàng 0912345678 chưa giao",
        "hẹn 20/11/2026 nhé",
        "9h30 ngày 15/12",
    ],
)
def test_prices_accounts_tax_codes_orders_and_dates_are_not_phones(
    extractor: EntityExtractor, text: str
) -> None:
    assert found(extractor, text, "phone") == []


def test_a_phone_next_to_a_price_is_still_found(extractor: EntityExtractor) -> None:
    text = "giá 500k, gọi 0912345678 để đặt"
    assert found(extractor, text, "phone") == [("+84912345678", "0912345678")]


@pytest.mark.parametrize(
    ("text", "value", "covered"),
    [
        (
            "email mình: Lan.Nguyen@Example.COM.",
            "lan.nguyen@example.com",
            "Lan.Nguyen@Example.COM",
        ),
        ("gửi vào lan+spa@gmail.com, cảm ơn", "lan+spa@gmail.com", "lan+spa@gmail.com"),
        (
            "(emily.carter@example.co.uk)",
            "emily.carter@example.co.uk",
            "emily.carter@example.co.uk",
        ),
        ("mail: TRAN_minh-99@mail.vn!", "tran_minh-99@mail.vn", "TRAN_minh-99@mail.vn"),
    ],
)
def test_emails_are_lower_cased_and_keep_plus_addressing(
    extractor: EntityExtractor, text: str, value: str, covered: str
) -> None:
    assert found(extractor, text, "email") == [(value, covered)]


@pytest.mark.parametrize("text", ["a@b", "lan@@example.com", "@example.com", "lan at example"])
def test_not_emails(extractor: EntityExtractor, text: str) -> None:
    assert found(extractor, text, "email") == []


@pytest.mark.parametrize(
    ("text", "value", "covered"),
    [
        ("đơn #DH12345 của em đâu rồi", "DH12345", "#DH12345"),
        ("đơn DH12345", "DH12345", "DH12345"),
        ("don hang dh-98765 chua giao", "DH-98765", "dh-98765"),
        ("ĐH55667 giao chưa ạ", "DH55667", "ĐH55667"),
        ("mã đơn hàng 123456", "123456", "123456"),
        ("mã đơn hàng: 123456", "123456", "123456"),
        ("đơn hàng số 7788990", "7788990", "7788990"),
        ("where is order A-10023?", "A-10023", "A-10023"),
        ("order #a-10023", "A-10023", "#a-10023"),
        ("order no. 556677", "556677", "556677"),
        ("my order ORD20261120 is late", "ORD20261120", "ORD20261120"),
        ("#123456", "123456", "#123456"),
    ],
)
def test_order_ids_are_upper_cased_without_the_hash(
    extractor: EntityExtractor, text: str, value: str, covered: str
) -> None:
    assert found(extractor, text, "order_id") == [(value, covered)]


@pytest.mark.parametrize(
    "text", ["đơn giản thôi", "order 12", "tôi đặt 2 đơn", "#hashtag", "giá 1.500.000đ"]
)
def test_not_order_ids(extractor: EntityExtractor, text: str) -> None:
    assert found(extractor, text, "order_id") == []


@pytest.mark.parametrize(
    ("text", "value", "covered"),
    [
        ("cho mình đặt lịch tư vấn da liễu", "skin_consultation", "tư vấn da liễu"),
        ("cho minh dat lich tu van da lieu", "skin_consultation", "tu van da lieu"),
        ("TƯ VẤN DA giá bao nhiêu", "skin_consultation", "TƯ VẤN DA"),
        ("how much is a skin consultation?", "skin_consultation", "skin consultation"),
        ("điều trị mụn chuyên sâu mất bao lâu", "acne_treatment", "điều trị mụn chuyên sâu"),
        ("dieu tri mun", "acne_treatment", "dieu tri mun"),
        ("massage body thư giãn", "body_massage", "massage body thư giãn"),
        ("Basic facial please", "facial_basic", "Basic facial"),
    ],
)
def test_services_match_the_catalogue_without_diacritics(
    extractor: EntityExtractor, text: str, value: str, covered: str
) -> None:
    assert found(extractor, text, "service") == [(value, covered)]


def test_a_configured_catalogue_replaces_the_default() -> None:
    custom = EntityExtractor(services={"skin_consult": ["tư vấn da", "skin consultation"]})
    text = "muốn tư vấn da và massage"
    assert found(custom, text, "service") == [("skin_consult", "tư vấn da")]
    assert found(EntityExtractor(services={}), text, "service") == []


def test_a_service_inside_another_word_is_not_matched(extractor: EntityExtractor) -> None:
    assert found(extractor, "massages", "service") == []
    assert found(extractor, "superfacial", "service") == []


def test_default_catalogue_is_the_demo_catalogue() -> None:
    from crm_core.demo import SERVICES

    assert set(DEFAULT_SERVICES) == {key for key, *_ in SERVICES}
    for key, name_vi, name_en, *_ in SERVICES:
        assert DEFAULT_SERVICES[key][:2] == (name_vi, name_en)


def test_entities_are_rasa_dicts_sorted_and_non_overlapping(extractor: EntityExtractor) -> None:
    text = (
        "Mình là Lan, sđt 0912 345 678, email lan@example.com, muốn đặt tư vấn da "
        "9h sáng mai, còn đơn #DH12345 thì sao?"
    )
    entities = extractor.extract(text, now=NOW)
    assert [e["entity"] for e in entities] == [
        "phone",
        "email",
        "service",
        "datetime",
        "order_id",
    ]
    for entity in entities:
        assert set(entity) == {"entity", "value", "start", "end", "confidence", "additional_info"}
        assert 0.0 < entity["confidence"] <= 1.0
    for left, right in zip(entities, entities[1:], strict=False):
        assert left["end"] <= right["start"]
    assert entities[3]["additional_info"] == {"grain": "hour"}
    assert text[entities[3]["start"] : entities[3]["end"]] == "9h sáng mai"


def test_offsets_point_into_text_with_decomposed_diacritics(extractor: EntityExtractor) -> None:
    import unicodedata

    text = unicodedata.normalize("NFD", "gọi tôi lúc 9h sáng mai nhé")
    (entity,) = extractor.extract(text, now=NOW)
    assert text[entity["start"] : entity["end"]] == unicodedata.normalize("NFD", "9h sáng mai")
    assert entity["value"] == "2026-11-21T09:00:00+07:00"


def _values(result: list[dict[str, Any]]) -> list[str]:
    return [e["value"] for e in result]


def test_now_defaults_to_the_clock_and_naive_now_is_local_time() -> None:
    extractor = EntityExtractor(timezone="Asia/Ho_Chi_Minh")
    naive = datetime.fromisoformat("2026-11-20T23:30:00")  # 23:30 in Ho Chi Minh City
    assert _values(extractor.extract("mai", now=naive)) == ["2026-11-21T00:00:00+07:00"]
    today = datetime.now(extractor.zone).date()
    assert _values(extractor.extract("hôm nay")) == [f"{today.isoformat()}T00:00:00+07:00"]


def test_timezone_is_configurable() -> None:
    extractor = EntityExtractor(timezone="Europe/London")
    now = datetime.fromisoformat("2026-11-20T10:00:00+00:00")
    assert _values(extractor.extract("tomorrow 9am", now=now)) == ["2026-11-21T09:00:00+00:00"]


def test_empty_text_has_no_entities(extractor: EntityExtractor) -> None:
    assert extractor.extract("", now=NOW) == []
    assert extractor.extract("   ", now=NOW) == []


@pytest.mark.parametrize(
    ("text", "covered"),
    [
        ("can I come on saturday morning", "saturday morning"),
        ("see you on monday at 3pm", "monday at 3pm"),
        ("book me in on the 28th", "the 28th"),
        ("tầm 2-3h chiều mai nhé", "2-3h chiều mai"),
    ],
)
def test_datetime_spans_leave_out_the_preposition(
    extractor: EntityExtractor, text: str, covered: str
) -> None:
    assert [span for _, span in found(extractor, text, "datetime")] == [covered]


def test_shipped_synonyms_and_lookup_cover_the_catalogue() -> None:
    """vi.yml/en.yml map every catalogue name and alias to its key, as Rasa's synonyms."""
    from nlu.builtin import shipped_training_data

    data = shipped_training_data()
    lookup = {name.lower() for name in data.lookups["service"]}
    for key, names in DEFAULT_SERVICES.items():
        assert {name.lower() for name in names} <= {s.lower() for s in data.synonyms[key]}
        assert {name.lower() for name in names} <= lookup
