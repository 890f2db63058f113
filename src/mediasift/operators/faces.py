"""Faces with boxes and five landmarks (YuNet), per image or keyframe.

Every face the detector scores at ``store_min_confidence`` or more is stored, with its confidence, in
a "faces" artifact per picture (an empty list records that a picture was looked at and held none).
Only faces at ``min_confidence`` or more make the picture searchable as "face" / "3 faces".
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.models.face_detector import LANDMARK_NAMES, Face
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

# YuNet scores clear frontal faces 0.85-0.95 (OpenCV's own YuNet sample keeps 0.9 and up). On
# scikit-image's photos the best-scoring things that are not faces are a motorcycle headlight (0.75)
# and a galaxy (0.69); 87 of 100 small LFW face crops score 0.8 or more (92 score 0.7). 0.5 is the
# detector's own default floor: faces between the two are stored but not searchable.
MIN_CONFIDENCE = 0.8
STORE_MIN_CONFIDENCE = 0.5


def describe(count: int) -> str:
    return "face" if count == 1 else f"{count} faces"


def face_data(face: Face) -> dict[str, Any]:
    return {
        "confidence": round(face.confidence, 4),
        "box": list(face.box),
        "landmarks": [list(point) for point in face.landmarks],
    }


class Faces(ImageOperator):
    name = "faces"
    version = "1"
    produces = frozenset({TEXT})
    role = Role.FACES

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": MIN_CONFIDENCE, "store_min_confidence": STORE_MIN_CONFIDENCE}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            found = ctx.inference.faces(item.pixels, ctx.params["store_min_confidence"])
            confident = [face for face in found if face.confidence >= ctx.params["min_confidence"]]
            top = max((face.confidence for face in found), default=None)
            if confident:
                result.segments.append(
                    SegmentOut(kind="faces", key=item.key, start=item.start, end=item.end,
                               text=describe(len(confident)), confidence=confident[0].confidence,
                               data={"faces": [face_data(face) for face in confident]})
                )  # fmt: skip
            data: dict[str, Any] = {
                "faces": [face_data(face) for face in found],
                "landmark_order": list(LANDMARK_NAMES),
            }
            if item.start is not None:
                data.update(start=item.start, end=item.end)
            result.artifacts.append(
                ArtifactOut(kind="faces", key=item.key, data=data, confidence=top,
                            segment_key=item.key if confident else None)
            )  # fmt: skip
        return result
