"""Text: decoded strictly, checked for binary content, and its language detected.

Decoding order: the byte-order mark's codec; else UTF-8; else Windows-1252 (the usual encoding of
Western European text without one) when it reads as sensible text; else charset-normalizer's best
guess. charset-normalizer alone is not used first: on a paragraph of German or French in cp1252 it
often names cp1250 or another code page that decodes the accented letters wrongly.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from mediasift.ingest.sniff import Rejected, TextFormat
from mediasift.media.html_text import is_html, visible_text

LanguageOf = Callable[[str], tuple[str, float] | None]  # a text's ISO 639-1 code and confidence

LANGUAGE_SAMPLE_CHARS = 4000
MAX_CONTROL_RATIO = 0.01
MAX_CHAOS = 0.1  # charset-normalizer's "mess" ratio above which a decoding is taken for garbage

# C0 and C1 control characters other than whitespace (\t \n \v \f \r) and ESC (ANSI colours in logs).
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


def probe_text(path: Path, fmt: TextFormat, language_of: LanguageOf) -> dict[str, Any]:
    """Read the whole file (the caller has checked it against the text size limit); its language is
    ``language_of`` its beginning."""
    encoding, text = _decode(path.read_bytes(), fmt)
    controls = len(_CONTROLS.findall(text))
    if controls > MAX_CONTROL_RATIO * len(text):
        raise Rejected(f"binary data, not text: {controls} of {len(text)} characters are control codes")
    page = is_html(text)
    if page:  # what the page shows is what is searched, and what its language is told from
        text = visible_text(text)
    language = language_of(text[:LANGUAGE_SAMPLE_CHARS])
    return {
        "encoding": encoding,
        "has_bom": fmt.bom_encoding is not None,
        "markup": "html" if page else None,
        "chars": len(text),
        "lines": len(text.splitlines()),
        "language": language[0] if language else None,
        "language_confidence": round(language[1], 4) if language else None,
    }


def _decode(data: bytes, fmt: TextFormat) -> tuple[str, str]:
    """(encoding name, text); raises :class:`Rejected` when no encoding reads the bytes cleanly."""
    encoding = fmt.known_encoding or "utf-8"
    try:
        return encoding.removesuffix("-sig"), data.decode(encoding)
    except UnicodeDecodeError as exc:
        if fmt.known_encoding:
            raise Rejected(f"not valid {exc.encoding} text: {exc.reason} at byte {exc.start}") from None
    for guess in (from_bytes(data, cp_isolation=["cp1252"]).best(), from_bytes(data).best()):
        if guess is not None and guess.chaos <= MAX_CHAOS:
            try:
                return codecs.lookup(guess.encoding).name, str(guess)
            except UnicodeDecodeError:
                continue
    raise Rejected("not text: the bytes are not UTF-8, and no other encoding reads them as sensible text")
