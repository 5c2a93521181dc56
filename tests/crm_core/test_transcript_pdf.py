"""The transcript PDF: Vietnamese text, wrapping, page breaks, text printed as text, fonts."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.reporting.transcript_pdf import (
    FONT_CANDIDATES,
    FontMissing,
    PdfLine,
    PdfTranscript,
    find_font,
    render_pdf,
)
from tests.crm_core.pdf_text import pdf_text

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _document(lines: list[PdfLine]) -> PdfTranscript:
    return PdfTranscript(
        title="Hội thoại với Lan Nguyễn",
        facts=[("Kênh", "telegram"), ("Bắt đầu", "2026-03-02 09:00:00")],
        lines=lines,
        page_label="Trang",
    )


def test_the_pdf_holds_the_header_and_every_message_in_vietnamese() -> None:
    lines = [
        PdfLine("2026-03-02 09:00:01", "Lan Nguyễn (Khách hàng)", "Tôi muốn đặt lịch thứ Bảy"),
        PdfLine("2026-03-02 09:00:02", "Bot", "Dạ, bạn muốn đặt lịch vào ngày nào ạ?"),
        PdfLine("2026-03-02 09:00:03", "Mai", "trạng thái bot → chờ nhân viên", kind="event"),
        PdfLine("2026-03-02 09:00:04", "Ghi chú nội bộ · Mai", "khách quen", kind="note"),
    ]
    data = render_pdf(_document(lines), font=find_font(None))
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "Hội thoại với Lan Nguyễn",
        "Kênh: telegram",
        "2026-03-02 09:00:01 · Lan Nguyễn (Khách hàng)",
        "Tôi muốn đặt lịch thứ Bảy",
        "Dạ, bạn muốn đặt lịch vào ngày nào ạ?",
        "2026-03-02 09:00:03 · trạng thái bot → chờ nhân viên · Mai",
        "khách quen",
        "Trang 1",
    ):
        assert expected in text, expected


def test_long_texts_wrap_and_pages_break() -> None:
    word = "đặt" + "x" * 300  # one "word" longer than a line
    lines = [PdfLine(f"09:{i:02d}", "Lan", f"tin nhắn số {i} {word}") for i in range(60)]
    data = render_pdf(_document(lines), font=find_font(None))
    text = pdf_text(data)
    assert data.count(b"/Type /Page\n") > 5
    assert "Trang 6" in text
    assert "tin nhắn số 0\nđặtxxx" in text and "tin nhắn số 59\nđặtxxx" in text
    assert max(len(line) for line in text.splitlines()) < 120  # wrapped, not cut off


def test_customer_text_is_printed_as_text() -> None:
    hostile = "**đậm** <b>x</b> {nb} [link](javascript:alert(1)) tab\there\x00\x1b end 😀"
    data = render_pdf(_document([PdfLine("09:00", "Lan", hostile)]), font=find_font(None))
    text = pdf_text(data)
    assert "**đậm** <b>x</b> {nb} [link](javascript:alert(1)) tab    here end" in text
    assert "/JavaScript" not in data.decode("latin-1") and "/URI" not in data.decode("latin-1")


def test_fonts_come_from_the_setting_then_the_system(tmp_path: Path) -> None:
    system = find_font(None)  # the tests need a Unicode font installed (fonts-dejavu-core)
    assert str(system) in FONT_CANDIDATES and FONT_CANDIDATES[0] == str(DEJAVU)
    assert find_font(str(system), candidates=()) == system
    assert find_font(None, candidates=(str(tmp_path / "none.ttf"), str(system))) == system
    with pytest.raises(FontMissing, match="fonts-dejavu-core"):
        find_font(None, candidates=(str(tmp_path / "none.ttf"),))
    with pytest.raises(FontMissing, match="OMNICRM_PDF_FONT"):
        find_font(str(tmp_path / "missing.ttf"))
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"this is not a font")
    with pytest.raises(FontMissing, match="OMNICRM_PDF_FONT"):
        render_pdf(_document([]), font=find_font(str(not_a_font)))
