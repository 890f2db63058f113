"""Probe a file: what it is (from its bytes, never its name), whether it is sound, and its metadata.

Everything here is cheap next to analysis: headers, a demux pass, a few decoded frames. Bad input
is refused with :class:`Rejected`, whose message is the reason a person reads; nothing else escapes
for bad input.
"""

from __future__ import annotations

import math
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediasift.config import Settings
from mediasift.ingest.probe_av import probe_av
from mediasift.ingest.probe_image import probe_image
from mediasift.ingest.probe_text import LanguageOf, probe_text
from mediasift.ingest.sniff import AVFormat, ImageFormat, Rejected, sniff
from mediasift.mediatype import MediaType

__all__ = ["Probe", "Rejected", "probe_file"]


@dataclass(frozen=True)
class Probe:
    media_type: MediaType
    mime: str  # e.g. video/mp4, audio/x-wav, image/png, text/plain, text/html
    metadata: dict[str, Any]  # JSON-serialisable only


def probe_file(path: Path, settings: Settings, language_of: LanguageOf) -> Probe:
    """Identify, validate and describe ``path``; raises :class:`Rejected` with the reason. A text's
    language is ``language_of`` it (the inference layer's language identification)."""
    size = path.stat().st_size
    if size == 0:
        raise Rejected("empty file")
    if size > settings.max_file_bytes:
        raise Rejected(f"file is {_human(size)}, over the {_human(settings.max_file_bytes)} limit")
    try:
        fmt = sniff(path)
    except Rejected as exc:
        raise Rejected(_mislabeled(path, exc), exc.mime) from None
    if isinstance(fmt, AVFormat):
        media_type, metadata = probe_av(path, fmt, settings)
        mime = fmt.video_mime if media_type is MediaType.VIDEO and fmt.video_mime else fmt.audio_mime
        return Probe(media_type, mime, metadata)
    if isinstance(fmt, ImageFormat):
        return Probe(MediaType.IMAGE, fmt.mime, probe_image(path, fmt, settings))
    if size > settings.max_text_bytes:
        raise Rejected(f"text file is {_human(size)}, over the {_human(settings.max_text_bytes)} text limit")
    metadata = probe_text(path, fmt, language_of)
    return Probe(MediaType.TEXT, "text/html" if metadata["markup"] == "html" else "text/plain", metadata)


def _human(n: int) -> str:
    """A byte count as people read it: 1536 -> '1.5 KiB'."""
    if n < 1024:
        return f"{n} bytes"
    exponent = min(int(math.log(n, 1024)), 3)
    return f"{n / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"


def _mislabeled(path: Path, refused: Rejected) -> str:
    """Say so when the name promises a media type the bytes do not deliver (``song.mp3`` of noise), but
    not when the bytes are what the name says, of a format this does not take (``icon.svg``)."""
    reason = str(refused)
    claimed, _ = mimetypes.guess_type(path.name)
    if claimed is None or claimed == refused.mime or claimed.split("/")[0] not in ("audio", "video", "image", "text"):
        return reason
    label = path.suffix.lstrip(".").upper()
    article = "an" if label[0] in "AEFHILMNORSX" else "a"
    return f"mislabeled: bytes are not {article} {label}: {reason}"
