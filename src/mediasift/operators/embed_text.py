"""Every segment that carries text gets a MiniLM embedding, so all of it is searchable by meaning."""

from __future__ import annotations

from mediasift.mediatype import MediaType
from mediasift.models.text_embedder import TextEmbedder, get_text_embedder
from mediasift.pipeline.operator import EmbeddingOut, Operator, OperatorContext, OperatorResult

TEXT_PRODUCERS: dict[MediaType, tuple[str, ...]] = {
    MediaType.IMAGE: ("labels", "objects", "ocr", "faces"),
    MediaType.VIDEO: ("labels", "objects", "ocr", "faces", "transcribe", "audio_events"),
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

    def run(self, ctx: OperatorContext) -> OperatorResult:
        segments = [seg for seg in ctx.segments() if seg.text and seg.text.strip()]
        if not segments:
            return OperatorResult()
        embedder = get_text_embedder()
        vectors = embedder.embed([seg.text or "" for seg in segments])
        return OperatorResult(
            embeddings=[
                EmbeddingOut(segment_id=seg.id, model=TextEmbedder.ref, vector=vector)
                for seg, vector in zip(segments, vectors, strict=True)
            ]
        )
