"""Transcript words attached to the shots they fall in, so a shot carries what was said during it."""

from __future__ import annotations

from typing import Any

from mediasift.mediatype import MediaType
from mediasift.operators.sound import has_sound
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult


def assign_words(shots: list[tuple[str, float, float]], words: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each word goes to the shot holding its midpoint (a word spoken across a cut belongs to one shot)."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in shots}
    for word in words:
        middle = (word["start"] + word["end"]) / 2
        for key, start, end in shots:
            if start <= middle < end or (middle >= end and key == shots[-1][0]):
                out[key].append(word)
                break
    return out


class ShotWords(Operator):
    name = "shot_words"
    version = "1"
    media_types = frozenset({MediaType.VIDEO})

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        return ("keyframes", "transcribe")

    def applies(self, asset: AssetView) -> bool:
        return asset.media_type is MediaType.VIDEO and has_sound(asset)

    def run(self, ctx: OperatorContext) -> OperatorResult:
        shots = [(s.key, s.start or 0.0, s.end or 0.0) for s in ctx.segments(operator="keyframes", kind="shot")]
        words = [w for seg in ctx.segments(operator="transcribe", kind="transcript") for w in seg.data.get("words", [])]
        result = OperatorResult()
        if not shots:
            return result
        for (key, start, end), (_, assigned) in zip(shots, assign_words(shots, words).items(), strict=True):
            result.artifacts.append(
                ArtifactOut(
                    kind="shot_words",
                    key=key,
                    data={"start": start, "end": end, "text": " ".join(w["word"] for w in assigned), "words": assigned},
                )
            )
        return result
