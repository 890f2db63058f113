"""Every segment that carries text gets an embedding, so all of it is searchable by meaning.

It runs after every operator of the asset's media type that produces text (``consumes``), shipped or
plugin, and again whenever one of them produced its text anew. The model is the configured tier
(MiniLM unless ``MEDIASIFT_TEXT_EMBEDDING_TIER`` says otherwise), a parameter of this operator:
changing it makes every asset's embeddings stale for ``reprocess``.

Texts in another language than English are also embedded by the multilingual model (MiniLM knows
English only), which search asks as a ranking of its own. A text's language is the one its operator
found (a transcript's, a text chunk's) or, for other text of six words or more (on-screen text, a
plugin's), the one identified here (lingua, ~0.3 ms); shorter texts, and the labels, object and
event names mediasift writes itself, are English.
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Catalog, Role
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import TEXT, Operator, OperatorContext
from mediasift.records import EmbeddingOut, ModelRef, OperatorResult, StoredSegment


class EmbedText(Operator):
    name = "embed_text"
    version = "3"
    media_types = frozenset(MediaType)
    consumes = frozenset({TEXT})

    def model(self, settings: Settings) -> ModelRef:
        catalog = Catalog(settings)
        return catalog.ref(catalog.text_role)

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"tier": settings.text_embedding_tier, "other_languages": Catalog(settings).ref(Role.MULTILINGUAL).id}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        segments = [seg for seg in ctx.segments() if seg.text and seg.text.strip()]
        if not segments:
            return OperatorResult()
        model = ctx.inference.text_ref
        vectors = ctx.inference.embed_texts([seg.text or "" for seg in segments])
        result = OperatorResult(
            embeddings=[
                EmbeddingOut(segment_id=seg.id, model=model, vector=vector)
                for seg, vector in zip(segments, vectors, strict=True)
            ]
        )
        foreign = [seg for seg in segments if language_of(ctx, seg) not in (None, ENGLISH)]
        if foreign:
            multilingual = ctx.inference.multilingual_ref
            found = ctx.inference.embed_multilingual([seg.text or "" for seg in foreign])
            result.embeddings += [
                EmbeddingOut(segment_id=seg.id, model=multilingual, vector=vector)
                for seg, vector in zip(foreign, found, strict=True)
            ]
        return result


ENGLISH = "en"
# Identified (not told) languages need six words: multilingual-e5 puts short lines near every query
# (3-word captions scored 0.80-0.84 against unrelated queries in eval/search.py, above the fusion
# floor, where paragraphs on other topics stay at 0.74-0.79), and lingua often misnames them
# ("KESTREL BAY FERRY" as Tagalog).
MIN_WORDS_TO_IDENTIFY = 6
# Texts mediasift writes itself from English vocabularies (label, object and event names, "3 faces",
# a shot's words): never another language. Identifying them wasted the multilingual model on lists
# such as "projectile, missile, space shuttle" (taken for Latin), whose vectors then came up for
# every query in eval/search.py.
OWN_VOCABULARY_KINDS = frozenset({"audio_event", "clip", "faces", "keyframe", "labels", "objects", "shot"})


def language_of(ctx: OperatorContext, segment: StoredSegment) -> str | None:
    """The language of a segment's text: as its operator found it, else identified when it has a few
    words (None: too short to tell, taken as English)."""
    known = segment.data.get("language")
    if isinstance(known, str) and known:
        return known
    if segment.kind in OWN_VOCABULARY_KINDS:
        return ENGLISH
    text = segment.text or ""
    if len(text.split()) < MIN_WORDS_TO_IDENTIFY:
        return None
    found = ctx.inference.language(text)
    return found[0] if found else None
