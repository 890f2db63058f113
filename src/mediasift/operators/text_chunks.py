"""A text document cut into overlapping chunks that end on sentence boundaries where possible."""

from __future__ import annotations

import re
from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.media.documents import document_text
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import TEXT, Operator, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and paragraphs) of ``text``, whitespace trimmed."""
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def chunk_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy chunks of whole sentences up to ``size`` characters; each chunk repeats the trailing
    sentences of the previous one up to ``overlap`` characters. A sentence longer than ``size`` is
    cut at whitespace."""
    pieces: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        while end - start > size:
            cut = text.rfind(" ", start, start + size)
            cut = cut if cut > start else start + size
            pieces.append((start, cut))
            start = cut
        pieces.append((start, end))

    chunks: list[tuple[int, int]] = []
    index = 0
    while index < len(pieces):
        first = index
        end_index = index
        while end_index + 1 < len(pieces) and pieces[end_index + 1][1] - pieces[first][0] <= size:
            end_index += 1
        chunks.append((pieces[first][0], pieces[end_index][1]))
        if end_index + 1 >= len(pieces):
            break
        back = end_index
        while back > first and pieces[end_index][1] - pieces[back][0] < overlap:
            back -= 1
        index = max(back + 1, first + 1) if back < end_index else end_index + 1
    return chunks


class TextChunks(Operator):
    """Chunks with the language of each (lingua, low-accuracy mode): a document may mix languages."""

    name = "text_chunks"
    version = "3"  # 3: an HTML page's shown text, not its markup
    media_types = frozenset({MediaType.TEXT})
    produces = frozenset({TEXT})
    role = Role.LANGUAGE_ROUTER

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"size": settings.text_chunk_chars, "overlap": settings.text_chunk_overlap_chars}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        encoding = str(ctx.asset.metadata.get("encoding") or "utf-8")
        text = document_text(ctx.media_path.read_bytes(), encoding, ctx.asset.mime)
        result = OperatorResult()
        languages: dict[str, int] = {}
        for index, (start, end) in enumerate(chunk_spans(text, ctx.params["size"], ctx.params["overlap"])):
            chunk = text[start:end].strip()
            found = ctx.inference.language(chunk)
            data: dict[str, object] = {"char_start": start, "char_end": end, "language": found[0] if found else None}
            if found:
                languages[found[0]] = languages.get(found[0], 0) + 1
            result.segments.append(
                SegmentOut(kind="text_chunk", key=f"c{index:05d}", text=chunk, confidence=found[1] if found else None,
                           data=data)
            )  # fmt: skip
        result.artifacts.append(
            ArtifactOut(
                kind="chunks", data={"chunks": len(result.segments), "chars": len(text), "languages": languages}
            )
        )
        return result
