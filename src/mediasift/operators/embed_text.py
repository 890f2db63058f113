"""Every segment that carries text gets an embedding, so all of it is searchable by meaning.

It runs after every operator of the asset's media type that produces text (``consumes``), shipped or
plugin, and again whenever one of them produced its text anew. The model is the configured tier
(MiniLM unless ``MEDIASIFT_TEXT_EMBEDDING_TIER`` says otherwise), a parameter of this operator:
changing it makes every asset's embeddings stale for ``reprocess``.
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Catalog
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import TEXT, Operator, OperatorContext
from mediasift.records import EmbeddingOut, ModelRef, OperatorResult


class EmbedText(Operator):
    name = "embed_text"
    version = "2"
    media_types = frozenset(MediaType)
    consumes = frozenset({TEXT})

    def model(self, settings: Settings) -> ModelRef:
        catalog = Catalog(settings)
        return catalog.ref(catalog.text_role)

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"tier": settings.text_embedding_tier}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        segments = [seg for seg in ctx.segments() if seg.text and seg.text.strip()]
        if not segments:
            return OperatorResult()
        model = ctx.inference.text_ref
        vectors = ctx.inference.embed_texts([seg.text or "" for seg in segments])
        return OperatorResult(
            embeddings=[
                EmbeddingOut(segment_id=seg.id, model=model, vector=vector)
                for seg, vector in zip(segments, vectors, strict=True)
            ]
        )
