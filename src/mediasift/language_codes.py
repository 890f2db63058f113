"""Language codes as mediasift stores them: ISO 639-1 ("de"), as lingua (texts) and Whisper (speech)
name languages; what a user types is read in either ISO 639-1 or 639-3, any case."""

from __future__ import annotations

from functools import cache


def stored_code(code: str) -> str:
    """``code`` as a stored language is written ("DE", "deu" -> "de"); ValueError naming it when no
    language model here knows it (a filter on it could only ever find nothing)."""
    from lingua import IsoCode639_1, IsoCode639_3, Language

    lowered = code.strip().lower()
    try:
        if len(lowered) == 2:
            IsoCode639_1.from_str(lowered)
            return lowered
        return str(Language.from_iso_code_639_3(IsoCode639_3.from_str(lowered)).iso_code_639_1.name).lower()
    except ValueError:
        pass
    if lowered in _speech_codes():
        return lowered
    raise ValueError(
        f"no language here has the code {code!r}: give its ISO 639-1 code (en, de, fr) or ISO 639-3 (eng, deu, fra)"
    )


@cache
def _speech_codes() -> frozenset[str]:
    """The codes Whisper names the languages it hears by (a few that lingua does not know: "haw",
    "yue", "jw"). Read from the pinned faster-whisper's tokenizer, whose list it is."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)
