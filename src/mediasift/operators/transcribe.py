"""Speech to text with word timings (faster-whisper tiny.en), one segment per utterance."""

from __future__ import annotations

import math

from mediasift.media.audio import decode_audio
from mediasift.mediatype import MediaType
from mediasift.models.transcriber import Transcriber, get_transcriber
from mediasift.pipeline.operator import (
    ArtifactOut,
    AssetView,
    Operator,
    OperatorContext,
    OperatorResult,
    SegmentOut,
)


class Transcribe(Operator):
    name = "transcribe"
    version = "1"
    media_types = frozenset({MediaType.AUDIO, MediaType.VIDEO})
    model = Transcriber.ref

    def applies(self, asset: AssetView) -> bool:
        if asset.media_type is MediaType.VIDEO:
            return bool(asset.metadata.get("has_audio"))
        return asset.media_type is MediaType.AUDIO

    def run(self, ctx: OperatorContext) -> OperatorResult:
        audio = decode_audio(ctx.media_path)
        transcript = get_transcriber().transcribe(audio)
        result = OperatorResult()
        texts = []
        for index, seg in enumerate(transcript.segments):
            text = seg.text.strip()
            if not text:
                continue
            texts.append(text)
            words = [
                {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3),
                 "confidence": round(w.probability, 4)}
                for w in seg.words
            ]  # fmt: skip
            result.segments.append(
                SegmentOut(
                    kind="transcript",
                    key=f"t{index:05d}",
                    start=seg.start,
                    end=seg.end,
                    text=text,
                    confidence=math.exp(seg.avg_logprob),
                    data={
                        "words": words,
                        "avg_logprob": seg.avg_logprob,
                        "no_speech_prob": seg.no_speech_prob,
                    },
                )
            )
        result.artifacts.append(
            ArtifactOut(
                kind="transcript",
                data={"language": transcript.language, "text": " ".join(texts),
                      "duration": transcript.duration,
                      "segments": len(result.segments)},
            )
        )  # fmt: skip
        return result
