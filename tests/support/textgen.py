"""English prose for text benchmarks and evaluations: the licence texts Debian ships in
/usr/share/common-licenses, cut into sentences, deduplicated, and joined in runs of two or three so
lengths vary from a few words to a paragraph (like transcript segments and text chunks)."""

from __future__ import annotations

import random
import re
from pathlib import Path

LICENCES = Path("/usr/share/common-licenses")


def sentences() -> list[str]:
    """Every distinct sentence of 4-120 words, in file order."""
    out: dict[str, None] = {}
    for path in sorted(LICENCES.glob("*")):
        if not path.is_file():
            continue
        prose = " ".join(path.read_text(errors="ignore").split())
        for sentence in re.split(r"(?<=[.;:])\s+", prose):
            if 4 <= len(sentence.split()) <= 120 and re.search(r"[a-z]{3}", sentence):
                out[sentence] = None
    if not out:
        raise SystemExit(f"no prose found under {LICENCES}")
    return list(out)


def short_sentences(count: int, seed: int = 7, max_words: int = 30) -> list[str]:
    """``count`` distinct sentences of at most ``max_words`` words (the length of a transcript
    utterance, a caption, an OCR line), shuffled."""
    short = [s for s in sentences() if len(s.split()) <= max_words]
    if count > len(short):
        raise ValueError(f"asked for {count} sentences; the licence texts give {len(short)}")
    random.Random(seed).shuffle(short)
    return short[:count]


def prose(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct texts in a shuffled order: sentences, and runs of two and three of them."""
    single = sentences()
    texts = dict.fromkeys(single)
    for run in (2, 3):
        texts.update(dict.fromkeys(" ".join(single[i : i + run]) for i in range(len(single) - run + 1)))
    if count > len(texts):
        raise ValueError(f"asked for {count} texts; the licence texts give {len(texts)}")
    shuffled = list(texts)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:count]
