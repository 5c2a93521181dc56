"""The FAQ answers its questions however they are typed, and stays quiet for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversations.faq import FaqBook, FaqEntry


@pytest.fixture(scope="module")
def faq() -> FaqBook:
    return FaqBook.load()


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("giờ mở cửa", "opening_hours"),
        ("gio mo cua", "opening_hours"),
        ("mấy giờ mở cửa vậy", "opening_hours"),
        ("may h mo cua vay shop", "opening_hours"),
        ("cho mình hỏi bên mình mấy giờ đóng cửa ạ", "opening_hours"),
        ("what are your opening hours", "opening_hours"),
        ("What time do you open?", "opening_hours"),
        ("spa ở đâu vậy", "address"),
        ("Dia chi spa o dau", "address"),
        ("where are you located?", "address"),
        ("cho hỏi giá tư vấn bao nhiêu", "consultation_price"),
        ("tu van co mat phi ko", "consultation_price"),
        ("is the consultation free?", "consultation_price"),
        ("có chỗ gửi xe ko", "parking"),
        ("is there parking", "parking"),
        ("có nhận chuyển khoản không", "payment_methods"),
        ("cho e hỏi thanh toán bằng thẻ đc k", "payment_methods"),
        ("can I pay by card", "payment_methods"),
        ("làm sao để đặt lịch", "how_to_book"),
        ("how do I book", "how_to_book"),
        ("có được hủy lịch không", "cancellation_policy"),
        ("cancellation policy?", "cancellation_policy"),
        ("pass wifi la j", "wifi"),
        ("do you have wifi?", "wifi"),
        ("spa có trị mụn ko", "services"),
        ("what treatments do you have", "services"),
        ("số hotline là gì", "contact"),
    ],
)
def test_match(faq: FaqBook, text: str, entry_id: str) -> None:
    entry = faq.match(text)
    assert entry is not None, text
    assert entry.id == entry_id


@pytest.mark.parametrize(
    "text",
    [
        "asdf qwer",
        "",
        "xin chào",
        "cảm ơn",
        "talk to a human please",
        "tôi muốn gặp nhân viên",
        "where is my order",
        "email của tôi là lan@example.com",
        "số điện thoại của tôi là 0909123456",
        "bao nhiêu tiền",
        "thời tiết hôm nay thế nào",
    ],
)
def test_unrelated_text_does_not_match(faq: FaqBook, text: str) -> None:
    assert faq.match(text) is None


def test_search_reports_score(faq: FaqBook) -> None:
    exact = faq.search("giờ mở cửa")
    padded = faq.search("cho mình hỏi giờ mở cửa bên spa hôm thứ bảy")
    assert exact is not None and padded is not None
    assert exact.entry.id == padded.entry.id == "opening_hours"
    assert exact.score == 1.0
    assert padded.score < exact.score


def test_packaged_faq_is_bilingual(faq: FaqBook) -> None:
    assert 8 <= len(faq.entries) <= 12
    assert len({entry.id for entry in faq.entries}) == len(faq.entries)
    for entry in faq.entries:
        assert set(entry.answers) == {"vi", "en"}, entry.id
        assert entry.questions["vi"] and entry.questions["en"], entry.id
        assert "\n" not in entry.answers["vi"]


@pytest.mark.parametrize(
    ("language", "expected"), [("vi", "Xin chào"), ("en", "Hello"), ("fr", "Xin chào")]
)
def test_answer_language_falls_back_to_vietnamese(language: str, expected: str) -> None:
    entry = FaqEntry(id="x", questions={"vi": ["x"]}, answers={"vi": "Xin chào", "en": "Hello"})
    assert entry.answer(language) == expected


def test_load_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "faq.yml"
    path.write_text(
        "entries:\n"
        "  - id: pets\n"
        "    offer_human: true\n"
        "    questions:\n"
        "      vi: [có cho mang thú cưng không]\n"
        "      en: [are pets allowed]\n"
        "    answers:\n"
        "      vi: Không ạ.\n"
        "      en: Sorry, no.\n",
        encoding="utf-8",
    )
    book = FaqBook.load(path)
    entry = book.match("co cho mang thu cung ko")
    assert entry is not None and entry.id == "pets" and entry.offer_human
    assert book.match("pets allowed?") == entry


def test_load_rejects_entry_without_answers(tmp_path: Path) -> None:
    path = tmp_path / "faq.yml"
    path.write_text("entries:\n  - id: x\n    questions: {vi: [a]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'x'"):
        FaqBook.load(path)


def test_replace_entries_changes_answers_in_place(faq: FaqBook) -> None:
    book = FaqBook(faq.entries)
    held = book  # what the bot keeps
    assert held.match("gio mo cua") is not None
    pets = FaqEntry(id="pets", questions={"vi": ["thú cưng"]}, answers={"vi": "Không ạ."})
    book.replace_entries([pets])
    assert held.match("giờ mở cửa") is None
    found = held.match("cho mang thu cung khong")
    assert found is not None and found.id == "pets"
    assert held.entries == (pets,)


def test_load_rejects_a_key_given_twice(tmp_path: Path) -> None:
    path = tmp_path / "faq.yml"
    entry = "  - id: x\n    questions: {vi: [a]}\n    answers: {vi: b}\n"
    path.write_text("entries:\n" + entry + entry, encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        FaqBook.load(path)
