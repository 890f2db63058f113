"""Debian's pocketsphinx-testdata LibriVox recordings: real read speech with reference transcripts,
for the speech evaluations and benchmarks."""

from __future__ import annotations

import re
import sys
from pathlib import Path

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def recordings() -> list[tuple[Path, str]]:
    """Every recording with its transcript as written (no normalisation), in file order. Exits with
    the install command when the package is missing."""
    if not LIBRIVOX.is_dir():
        sys.exit(f"{LIBRIVOX} is missing: apt-get install pocketsphinx-testdata")
    references = transcriptions(LIBRIVOX / "transcription")
    return [(path, references[path.stem]) for path in sorted(LIBRIVOX.glob("*.wav"))]


def transcriptions(path: Path) -> dict[str, str]:
    """A pocketsphinx transcription file (``<s> words </s> (file id)`` a line) as {file id: words}."""
    references = {}
    for line in path.read_text().splitlines():
        match = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if match:
            references[match.group(2)] = match.group(1).strip()
    return references
