"""Chunking text: sentence boundaries respected, every character covered, overlap as configured."""

from __future__ import annotations

import itertools

from mediasift.media.documents import read_text
from mediasift.operators.text_chunks import chunk_spans, sentence_spans

TEXT = " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(60))


def test_chunks_cover_the_text_end_on_sentences_and_overlap() -> None:
    chunks = chunk_spans(TEXT, size=300, overlap=80)
    assert len(chunks) > 5
    assert chunks[0][0] == 0 and chunks[-1][1] == len(TEXT)
    for (start, end), (next_start, _) in itertools.pairwise(chunks):
        assert end - start <= 300
        assert TEXT[end - 1] == "."
        assert next_start < end, "consecutive chunks overlap"
        assert end - next_start <= 300


def test_a_sentence_longer_than_a_chunk_is_cut_at_whitespace() -> None:
    words = "word " * 200
    chunks = chunk_spans(words.strip(), size=100, overlap=0)
    assert all(end - start <= 100 for start, end in chunks)
    assert "".join(words.strip()[s:e] for s, e in chunks).replace(" ", "") == words.replace(" ", "")


def test_paragraph_breaks_split_sentences() -> None:
    text = "Title without a stop\n\nFirst sentence. Second one!"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Title without a stop",
        "First sentence.",
        "Second one!",
    ]


def test_read_text_strips_bom_and_normalises_newlines() -> None:
    assert read_text("\ufeffa\r\nb\rc".encode("utf-16"), "utf-16") == "a\nb\nc"
    # the first bytes of a longer text: a character cut at their end is left out, not an error
    assert read_text("Łódź".encode()[:4], "utf-8", whole=False) == "Łó"
    assert read_text("ab".encode("utf-16")[:5], "utf-16", whole=False) == "a"  # its BOM, a, half a b
