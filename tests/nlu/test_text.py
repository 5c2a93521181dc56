"""Normalisation, shorthand and language detection are what every matcher builds on."""

from __future__ import annotations

import pytest

from nlu.text import content_terms, detect_language, normalize, stem, strip_diacritics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đặt lịch", "Dat lich"),
        ("đường Nguyễn Huệ", "duong Nguyen Hue"),
        ("Cảm ơn, chị ạ!", "Cam on, chi a!"),
        ("ừ được", "u duoc"),
        ("Mỹ Phẩm Ổn Định", "My Pham On Dinh"),
        ("plain ascii", "plain ascii"),
        # Decomposed input (combining marks typed separately) folds the same way.
        ("Vie\u0302\u0323t Nam", "Viet Nam"),
    ],
)
def test_strip_diacritics(text: str, expected: str) -> None:
    assert strip_diacritics(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Xin   CHÀO!!!", "xin chao"),
        ("Giờ mở cửa?", "gio mo cua"),
        ("mik k bt", "minh khong biet"),
        ("ko dc à", "khong duoc a"),
        ("đc không", "duoc khong"),
        ("hok hong kh", "khong khong khong"),
        ("cj ơi, e cần sđt", "chi oi em can so dien thoai"),
        ("giá bn vậy", "gia bao nhieu vay"),
        ("sp này dùng ntn", "san pham nay dung nhu the nao"),
        ("j vs ns", "gi voi noi"),
        ("thanks, tks, thx", "thank thank thank"),
        ("oke okie okay", "ok ok ok"),
        ("👍", "ok"),
        ("hello 😀 world", "hello world"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Shorthand is expanded only when typed without diacritics.
        ("hoa hồng", "hoa hong"),
        ("hong", "khong"),
        # Ambiguous forms are left alone.
        ("công ty", "cong ty"),
        ("m", "m"),
        ("a", "a"),
        ("100k", "100k"),
    ],
)
def test_normalize_leaves_ambiguous_words(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("hours", "hour"),
        ("opening", "open"),
        ("policies", "policy"),
        ("booked", "book"),
        ("address", "address"),
        ("yes", "yes"),
        ("khong", "khong"),
        ("minh", "minh"),
    ],
)
def test_stem(token: str, expected: str) -> None:
    assert stem(token) == expected


def test_content_terms_drop_filler_words() -> None:
    assert content_terms(["cho", "toi", "gap", "nhan", "vien"]) == {"gap", "nhan", "vien"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Xin chào", "vi"),
        ("xin chao", "vi"),
        ("cảm ơn", "vi"),
        ("toi muon gap nhan vien", "vi"),
        ("cho minh hoi gia", "vi"),
        ("ko can dau", "vi"),
        ("bao nhieu tien", "vi"),
        ("đc", "vi"),
        ("hi", "en"),
        ("hello there", "en"),
        ("thanks", "en"),
        ("I want to book an appointment", "en"),
        ("how much is the price", "en"),
        ("talk to a human please", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    # A clear signal beats the default either way.
    other = "en" if expected == "vi" else "vi"
    assert detect_language(text, default=other) == expected


@pytest.mark.parametrize("text", ["ok", "👍", "", "asdf qwer", "12345"])
@pytest.mark.parametrize("default", ["vi", "en"])
def test_detect_language_falls_back_to_default_when_unsure(text: str, default: str) -> None:
    assert detect_language(text, default=default) == default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mik muốn đặt lịch, k bt còn slot ko", "minh muon dat lich khong biet con slot khong"),
        ("e mún đặt lịch trị mụn", "em muon dat lich tri mun"),  # "mún" is not "mụn"
        ("đc ko ạ", "duoc khong a"),
        ("sao z", "sao vay"),
        ("bên e có dv j v", "ben em co dich vu gi vay"),
        ("giá bnhiu", "gia bao nhieu"),
        ("thui k cần", "thoi khong can"),
        ("đk tư vấn", "dang ky tu van"),
        ("nt cho mik", "nhan tin cho minh"),
        # "r" is "rồi" only in a Vietnamese message; in English shorthand it is "are".
        ("c bận r", "c ban roi"),
        ("đặt r", "dat roi"),
        ("r u ok", "r u ok"),
    ],
)
def test_normalize_chat_shorthand(text: str, expected: str) -> None:
    assert normalize(text) == expected
