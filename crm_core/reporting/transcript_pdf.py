"""A conversation transcript as a PDF, built from plain data (no web or database imports).

Vietnamese needs a Unicode TrueType font: `OMNICRM_PDF_FONT`, else the first of the usual
system fonts that exists. Customer text is printed as text: no markup is interpreted, control
characters are dropped, and a character the font lacks becomes "?" (nothing of it is logged).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fpdf import FPDF

FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",  # Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/google-noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",  # macOS
    "C:/Windows/Fonts/arial.ttf",
)
NO_FONT = (
    "PDF transcripts need a Unicode font and none was found: install the fonts-dejavu-core "
    "package, or set OMNICRM_PDF_FONT to the path of a .ttf file."
)
BAD_FONT = (
    "OMNICRM_PDF_FONT does not name a readable TrueType (.ttf) file: fix the path, or unset it "
    "to use a system font (fonts-dejavu-core)."
)
FONT = "transcript"
GREY = (90, 98, 110)
BLACK = (20, 24, 28)


class FontMissing(RuntimeError):
    """No usable font; the message tells the administrator what to install or set."""


@dataclass(frozen=True)
class PdfLine:
    """One entry: a message (author, text), an event (text), or an internal note."""

    at: str
    author: str
    text: str
    detail: str = ""
    kind: Literal["message", "event", "note"] = "message"


@dataclass(frozen=True)
class PdfTranscript:
    """Everything printed, already in the reader's language and timezone."""

    title: str
    facts: Sequence[tuple[str, str]]  # (label, value) rows of the header
    lines: Sequence[PdfLine]
    page_label: str = "Page"


def find_font(configured: str | None, candidates: Sequence[str] | None = None) -> Path:
    """The font to embed: the configured one, else the first system font that exists."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(BAD_FONT)
        return path
    for candidate in FONT_CANDIDATES if candidates is None else candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontMissing(NO_FONT)


class _Pdf(FPDF):
    """FPDF with a page footer; the page-count alias is off so "{nb}" in a message stays."""

    def __init__(self, page_label: str) -> None:
        super().__init__(format="A4")
        self.page_label = page_label
        self.str_alias_nb_pages = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 6, f"{self.page_label} {self.page_no()}", align="C")


def render_pdf(transcript: PdfTranscript, *, font: Path, compress: bool = True) -> bytes:
    """The PDF bytes of `transcript`; long texts wrap and pages break by themselves."""
    pdf = _Pdf(transcript.page_label)
    pdf.set_compression(compress)
    try:
        pdf.add_font(FONT, fname=str(font))
    except Exception as exc:  # fpdf2 raises several kinds for a file that is not a font
        raise FontMissing(BAD_FONT) from exc
    pdf.set_title(_clean(transcript.title, pdf))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(16, 14, 16)
    pdf.add_page()
    _header(pdf, transcript)
    for line in transcript.lines:
        _entry(pdf, line)
    return bytes(pdf.output())


def _header(pdf: _Pdf, transcript: PdfTranscript) -> None:
    pdf.set_font(FONT, size=15)
    pdf.set_text_color(*BLACK)
    _para(pdf, transcript.title, height=8)
    pdf.set_font(FONT, size=9.5)
    for label, value in transcript.facts:
        _para(pdf, f"{label}: {value}", height=5)
    pdf.ln(2)
    pdf.set_draw_color(*GREY)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(3)


def _entry(pdf: _Pdf, line: PdfLine) -> None:
    if line.kind == "event":
        pdf.set_font(FONT, size=8.5)
        pdf.set_text_color(*GREY)
        _para(pdf, " · ".join(part for part in (line.at, line.text, line.author) if part), 4.5)
        pdf.ln(1)
        return
    pdf.set_font(FONT, size=8.5)
    pdf.set_text_color(*GREY)
    _para(pdf, " · ".join(part for part in (line.at, line.author, line.detail) if part), 4.5)
    pdf.set_font(FONT, size=10.5)
    pdf.set_text_color(*BLACK)
    _para(pdf, line.text, 5.5)
    pdf.ln(2.5)


def _para(pdf: _Pdf, text: str, height: float) -> None:
    pdf.multi_cell(0, height, _clean(text, pdf), new_x="LMARGIN", new_y="NEXT")


def _clean(text: str, pdf: _Pdf) -> str:
    """NFC text without control characters; glyphs the font lacks become "?"."""
    cmap = getattr(pdf.current_font, "cmap", None) or pdf.fonts[FONT].cmap
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char == "\t":
            out.append("    ")
        elif char == "\n":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(char if ord(char) in cmap or char == " " else "?")
    return "".join(out)
