"""HTML mail bodies as readable plain text, for mails that carry no text/plain part."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Content that is never shown to a reader.
_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})
# Elements that start on a new line in a browser (HTML Living Standard, "display: block").
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol",
        "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "address", "center", "dl", "dt", "dd",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")


class _TextCollector(HTMLParser):
    """Collects visible text; blockquotes become '> ' lines so quote stripping sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._quote = 0
        self._links: list[str | None] = []
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._newline(force=True)
        elif tag == "li":
            self._newline()
            self._line.append("- ")
        elif tag == "blockquote":
            self._newline()
            self._quote += 1
        elif tag in _BLOCKS:
            self._newline()
            if tag == "pre":
                self._pre += 1
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))
            self._link_text = []
        elif tag in ("td", "th") and self._line:
            self._line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "blockquote":
            self._newline()
            self._quote = max(0, self._quote - 1)
        elif tag in _BLOCKS or tag == "li":
            self._newline()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag == "a" and self._links:
            self._close_link(self._links.pop())

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            for index, part in enumerate(data.split("\n")):
                if index:
                    self._newline(force=True)
                self._line.append(part)
            return
        text = _SPACES.sub(" ", data)
        if not self._line or self._line[-1].endswith((" ", "- ")):
            text = text.lstrip(" ")
        if text:
            self._line.append(text)
            if self._links:
                self._link_text.append(text)

    def _close_link(self, href: str | None) -> None:
        label = "".join(self._link_text).strip()
        # Links as "text (url)", unless the text already is the address.
        if href and not href.startswith(("mailto:", "#", "javascript:")) and label != href:
            self._line.append(f" ({href})")

    def _newline(self, *, force: bool = False) -> None:
        line = "".join(self._line).rstrip()
        if line or force:
            prefix = "> " * self._quote
            self.lines.append(prefix + line if line else prefix.rstrip())
        self._line = []

    def text(self) -> str:
        self._newline()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: no script/style, line breaks kept, links as 'text (url)'."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = collector.text()
    return re.sub(r"\n{3,}", "\n\n", text).strip()
