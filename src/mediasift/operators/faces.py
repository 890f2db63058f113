"""Faces with boxes and five landmarks (YuNet), per image or keyframe.

Every face the detector scores at ``store_min_confidence`` or more is stored, with its confidence, in
a "faces" artifact per picture (an empty list records that a picture was looked at and held none).
Only faces at ``min_confidence`` or more make the picture searchable as "face" / "3 faces"; those
of them at least ``min_side`` pixels high and wide are also embedded (aligned from their landmarks)
and handed on as faces to group into people (``pipeline/people.py``).
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Catalog, Role
from mediasift.models.face_detector import LANDMARK_NAMES, Face
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, FaceOut, OperatorResult, SegmentOut

# YuNet scores clear frontal faces 0.85-0.95 (OpenCV's own YuNet sample keeps 0.9 and up). On
# scikit-image's photos the best-scoring things that are not faces are a motorcycle headlight (0.75)
# and a galaxy (0.69); 87 of 100 small LFW face crops score 0.8 or more (92 score 0.7). 0.5 is the
# detector's own default floor: faces between the two are stored but not searchable.
MIN_CONFIDENCE = 0.8
STORE_MIN_CONFIDENCE = 0.5
# dlib's recognition model sees a 150x150 chip; a face under ~32 px is mostly upscaling blur, and
# blurred faces of different people come out alike (25 px LFW faces: 375 of 4,005 pairs of them
# closer than dlib's own same-person distance of 0.6).
MIN_SIDE = 32


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
    version = "3"  # 3: the detector sees a picture at most 640 px a side (960 before)
    produces = frozenset({TEXT})
    role = Role.FACES

    def params(self, settings: Settings) -> dict[str, Any]:
        embedder = Catalog(settings).ref(Role.FACE_EMBEDDINGS)  # another face model makes every face stale
        return {
            "min_confidence": MIN_CONFIDENCE, "store_min_confidence": STORE_MIN_CONFIDENCE, "min_side": MIN_SIDE,
            "embedder": f"{embedder.id}@{embedder.version}",
        }  # fmt: skip

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            if item.too_small:
                continue
            found = ctx.inference.faces(item.pixels, ctx.params["store_min_confidence"])
            confident = [face for face in found if face.confidence >= ctx.params["min_confidence"]]
            top = max((face.confidence for face in found), default=None)
            if confident:
                grouped = [(i, face) for i, face in enumerate(confident) if min(face.box[2:]) >= ctx.params["min_side"]]
                vectors = ctx.inference.face_vectors(item.pixels, [face for _, face in grouped])
                result.faces.extend(
                    FaceOut(segment_key=item.key, index=i, box=face.box, confidence=face.confidence,
                            model=ctx.inference.face_vectors_ref, vector=vector)
                    for (i, face), vector in zip(grouped, vectors, strict=True)
                )  # fmt: skip
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
