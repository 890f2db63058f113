"""The text a browser shows of an HTML page: what search reads of it, rather than its markup, scripts
and styles (a page indexed as written put "var x = ...; body{color:red}" in its snippets). Parsed by
the standard library's HTML parser, which reads broken markup as browsers do: never an error."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# A page starts so, after any whitespace and comments (the bytes decide, never the file's name).
_PAGE_START = re.compile(r"\A(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html[\s>/])", re.IGNORECASE | re.DOTALL)
# Elements whose content is never shown as text.
HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
# Elements that start a line of their own.
BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "figcaption", "figure",
     "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
     "section", "summary", "table", "td", "th", "title", "tr", "ul"}
)  # fmt: skip


def is_html(text: str) -> bool:
    """Whether ``text`` is an HTML page (a doctype or an ``<html>`` element first)."""
    return bool(_PAGE_START.match(text[:65536]))


def visible_text(page: str) -> str:
    """What the page shows, a line per block (title, headings, paragraphs, list items, cells),
    paragraphs apart by a blank line, character references resolved."""
    reader = _Reader()
    reader.feed(page)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        elif tag in BLOCKS:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "title") else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
