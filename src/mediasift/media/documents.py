"""A text asset's text as mediasift reads it, for its analysis and for its page alike."""

from __future__ import annotations

import codecs

from mediasift.media.html_text import visible_text


def read_text(data: bytes, encoding: str, *, whole: bool = True) -> str:
    """``data`` decoded by ``encoding`` (the probe's, which read it all), without a byte-order mark,
    every newline ``\\n``. Not ``whole``: the first bytes of a longer text, a character cut at their
    end left out."""
    text = codecs.getincrementaldecoder(encoding)().decode(data, final=whole)
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def document_text(data: bytes, encoding: str, mime: str, *, whole: bool = True) -> str:
    """The text of a document stored as ``data`` (or its first bytes, not ``whole``): an HTML page's as a
    browser shows it, not its markup."""
    text = read_text(data, encoding, whole=whole)
    return visible_text(text) if mime == "text/html" else text
