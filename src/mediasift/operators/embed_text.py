"""Every segment that carries text gets an embedding, so all of it is searchable by meaning.

The model is the configured tier (MiniLM unless ``MEDIASIFT_TEXT_EMBEDDING_TIER`` says otherwise),
a parameter of this operator: changing it makes every asset's embeddings stale for ``reprocess``.
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.text import embed_texts, text_model_ref
from mediasift.mediatype import MediaType
from mediasift.models.text_embedder import TextEmbedder
from mediasift.pipeline.operator import EmbeddingOut, Operator, OperatorContext, OperatorResult

TEXT_PRODUCERS: dict[MediaType, tuple[str, ...]] = {
    MediaType.IMAGE: ("labels", "objects", "ocr", "faces", "caption", "clip"),
    MediaType.VIDEO: ("labels", "objects", "ocr", "faces", "caption", "clip", "transcribe", "audio_events"),
    MediaType.AUDIO: ("transcribe", "audio_events"),
    MediaType.TEXT: ("text_chunks",),
}


class EmbedText(Operator):
    name = "embed_text"
    version = "2"
    media_types = frozenset(MediaType)
    model = TextEmbedder.ref

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        return TEXT_PRODUCERS[media_type]

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"tier": settings.text_embedding_tier}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        segments = [seg for seg in ctx.segments() if seg.text and seg.text.strip()]
        if not segments:
            return OperatorResult()
        model = text_model_ref(ctx.settings)
        vectors = embed_texts([seg.text or "" for seg in segments], ctx.settings)
        return OperatorResult(
            embeddings=[
                EmbeddingOut(segment_id=seg.id, model=model, vector=vector)
                for seg, vector in zip(segments, vectors, strict=True)
            ]
        )
