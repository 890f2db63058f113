"""A text asset's text as mediasift reads it, for its analysis and for its page alike."""

from __future__ import annotations

from mediasift.media.html_text import visible_text


def read_text(data: bytes, encoding: str) -> str:
    """``data`` decoded by ``encoding`` (the probe's, which read it all), without a byte-order mark,
    every newline ``\\n``."""
    text = data.decode(encoding)
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def document_text(data: bytes, encoding: str, mime: str) -> str:
    """The text of a document stored as ``data``: an HTML page's as a browser shows it, not its markup."""
    text = read_text(data, encoding)
    return visible_text(text) if mime == "text/html" else text
