"""Cues as WebVTT and SubRip (SRT) text.

Times are rounded to the millisecond once, before they are split into hours, minutes and seconds,
so 59.9996 s is ``00:01:00.000`` (never ``00:00:60.000``). Hours take as many digits as they need.
A cue whose rounded end is not after its start is given one millisecond: both formats want the end
after the start. Cues come out in order of start (then end); SRT numbers them from 1.
"""

from __future__ import annotations

from collections.abc import Iterable

from mediasift.exports.cues import Cue, clean_text

VTT_MIME = "text/vtt; charset=utf-8"
SRT_MIME = "application/x-subrip; charset=utf-8"


def timestamp(seconds: float, decimal: str = ".") -> str:
    """``HH:MM:SS.mmm`` (WebVTT) or, with ``decimal`` ",", ``HH:MM:SS,mmm`` (SRT); negative is 0."""
    return _format_ms(_ms(seconds), decimal)


def to_vtt(cues: Iterable[Cue]) -> str:
    """A WebVTT file: the header, then each cue's timing line and its text with ``&``, ``<`` and ``>``
    escaped (cue text is markup in WebVTT)."""
    blocks = ["WEBVTT\n"]
    for start, end, text in _timed(cues):
        blocks.append(f"{_format_ms(start, '.')} --> {_format_ms(end, '.')}\n{escape_vtt(text)}\n")
    return "\n".join(blocks)


def to_srt(cues: Iterable[Cue]) -> str:
    """A SubRip file: numbered cues, times with a decimal comma. The text is as it is (SRT has no
    escapes; players read a few HTML-like tags in it)."""
    blocks = [
        f"{number}\n{_format_ms(start, ',')} --> {_format_ms(end, ',')}\n{text}\n"
        for number, (start, end, text) in enumerate(_timed(cues), start=1)
    ]
    return "\n".join(blocks)


def escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timed(cues: Iterable[Cue]) -> list[tuple[int, int, str]]:
    """Cues with text, in milliseconds, in order."""
    out = []
    for cue in cues:
        text = clean_text(cue.text)
        if text:
            start = _ms(cue.start)
            out.append((start, max(_ms(cue.end), start + 1), text))
    return sorted(out, key=lambda cue: (cue[0], cue[1]))


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _format_ms(ms: int, decimal: str) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal}{millis:03d}"
