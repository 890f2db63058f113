"""Faces, the faces operator, and OCR text merged over a video's keyframes.

The merge test ingests a video through the whole pipeline. Its captions change only at hard cuts
between photos, so whether keyframes are taken per shot or at a fixed 5 s interval, every keyframe
shows exactly one caption, and a caption's merged time range is a union of whole shots.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import av
import numpy as np
import pytest
from av.video.stream import VideoStream
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.models.face_detector import MAX_SIDE, Face, FaceDetector
from mediasift.models.ocr import OcrLine
from mediasift.models.weights import Lazy
from mediasift.operators.faces import Faces
from mediasift.operators.images import ImageItem
from mediasift.operators.ocr import merge_runs, normalise, similarity
from mediasift.pipeline.operator import OperatorContext
from mediasift.records import StoredSegment
from mediasift.service import Mediasift
from mediasift.service_models import Artifact

from support import mediagen, scenegen
from support.contexts import memory_context

pytest.importorskip("skimage.data")

SIZE = (640, 360)
FPS = 25
SHOT_S = 5.0
FIRST_CAPTION = "Storm warning for the coast"
SECOND_CAPTION = "Harbour closed until Monday"
# (background photo, caption) per shot; cuts at 5 s and 10 s, the first caption on for 0-10 s.
SHOTS = [("astronaut", FIRST_CAPTION), ("rocket", FIRST_CAPTION), ("coffee", SECOND_CAPTION)]


# ---------------------------------------------------------------- the face detector


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    return Inference(Settings(home=tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="module")
def detector(door: Inference) -> FaceDetector:
    """The face detector's runtime, as the process's pool holds it."""
    runtime: FaceDetector = door.handle(Role.FACES).get()
    return runtime


def test_a_face_with_five_landmarks_is_found_on_the_astronaut(detector: FaceDetector) -> None:
    faces = detector.detect(mediagen.photo("astronaut"))
    assert len(faces) == 1
    face = faces[0]
    assert face.confidence >= 0.85
    x, y, w, h = face.box
    assert 150 <= x <= 200 and 40 <= y <= 90 and 60 <= w <= 120 and 80 <= h <= 140  # her face, top centre
    assert len(face.landmarks) == 5
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks)
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    assert right_eye[0] < left_eye[0] and right_mouth[0] < left_mouth[0]  # as seen: her right eye on the left
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_face_where_there_is_none(name: str, detector: FaceDetector) -> None:
    assert detector.detect(mediagen.photo(name)) == []


def test_face_boxes_are_in_the_input_pictures_pixels(detector: FaceDetector) -> None:
    """A picture over the detector's working size is shrunk for it; boxes come back scaled up.
    (The detector sees the 3x picture at 640 px, not 512, so its reads differ by a few pixels.)"""
    small = detector.detect(mediagen.photo("astronaut"))[0]
    big = detector.detect(np.repeat(np.repeat(mediagen.photo("astronaut"), 3, 0), 3, 1))[0]
    small_points = [*small.box, *(v for point in small.landmarks for v in point)]
    big_points = [*big.box, *(v for point in big.landmarks for v in point)]
    assert all(abs(b / 3 - s) <= 8 for b, s in zip(big_points, small_points, strict=True))


def test_the_face_detector_sees_a_picture_at_most_640_pixels_a_side() -> None:
    """YuNet's training size: a 640-pixel picture (the limit, inside it) goes in as it is, a 642-pixel
    one (past it) shrunk to 640; the astronaut's face is found in both, at the input's scale."""
    assert MAX_SIDE == 640
    detector = FaceDetector().load()
    native = detector._runtime.get()
    seen: list[tuple[int, ...]] = []

    def recorded(bgr: np.ndarray) -> np.ndarray:
        seen.append(bgr.shape[:2])
        return np.asarray(native(bgr))

    detector._runtime = Lazy(lambda: recorded)
    for width, looked_at in ((640, 640), (642, 640)):
        picture = scenegen.cover(mediagen.photo("astronaut"), (width, 480))
        (face,) = detector.detect(picture, 0.8)
        assert max(seen[-1]) == looked_at and face.box[0] + face.box[2] <= width


def test_min_confidence_filters(detector: FaceDetector, door: Inference) -> None:
    assert detector.detect(mediagen.photo("astronaut"), min_confidence=0.99) == []
    assert door.faces(mediagen.photo("astronaut"), 0.99) == []
    assert door.faces(mediagen.photo("astronaut"), 0.5) == detector.detect(mediagen.photo("astronaut"))


# ---------------------------------------------------------------- the faces operator


def _context(
    media_type: MediaType, path: Path, keyframes: Sequence[tuple[float, float, np.ndarray]], door: Inference
) -> OperatorContext:
    """An operator context without a database: keyframes are served from memory."""
    blobs: dict[str, bytes] = {}
    segments: list[StoredSegment] = []
    for index, (start, end, pixels) in enumerate(keyframes):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="PNG")
        sha = hashlib.sha256(out.getvalue()).hexdigest()
        blobs[sha] = out.getvalue()
        segments.append(StoredSegment(index, "keyframes", "keyframe", f"kf{index:05d}", start, end, None, None,
                                      None, {"blob": sha}))  # fmt: skip

    return memory_context(door, path, media_type, params=Faces().params(door.settings), segments=segments, blobs=blobs)


def test_faces_operator_on_an_image(tmp_path: Path, door: Inference) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(mediagen.photo("astronaut")).save(path)
    result = Faces().run(_context(MediaType.IMAGE, path, [], door))
    (segment,) = result.segments
    assert (segment.kind, segment.key, segment.text, segment.start) == ("faces", "image", "face", None)
    assert segment.confidence is not None and segment.confidence >= 0.85
    (artifact,) = result.artifacts
    assert artifact.kind == "faces" and artifact.segment_key == "image" and artifact.confidence == segment.confidence
    (face,) = artifact.data["faces"]
    assert set(face) == {"confidence", "box", "landmarks"} and len(face["box"]) == 4 and len(face["landmarks"]) == 5
    assert "start" not in artifact.data


def test_faces_operator_on_keyframes(tmp_path: Path, door: Inference) -> None:
    """Every keyframe gets an artifact with its time range; only the one with a face is searchable."""
    keyframes = [(0.0, 5.0, mediagen.photo("coffee")), (5.0, 10.0, mediagen.photo("astronaut"))]
    result = Faces().run(_context(MediaType.VIDEO, tmp_path / "video.mp4", keyframes, door))
    assert [(s.key, s.start, s.end, s.text) for s in result.segments] == [("kf00001", 5.0, 10.0, "face")]
    by_key = {a.key: a for a in result.artifacts}
    assert by_key["kf00000"].data["faces"] == [] and by_key["kf00000"].segment_key is None
    assert (by_key["kf00000"].data["start"], by_key["kf00000"].data["end"]) == (0.0, 5.0)
    assert len(by_key["kf00001"].data["faces"]) == 1 and by_key["kf00001"].data["start"] == 5.0


def test_faces_below_the_search_floor_are_stored_but_not_searchable(tmp_path: Path) -> None:
    weak = Face(0.6, (10, 10, 40, 50), ((20, 25), (40, 25), (30, 35), (22, 45), (38, 45)))

    class WeakFaces(Inference):
        """A door whose face detector finds one unsure face in every picture."""

        def faces(self, pixels: np.ndarray, min_confidence: float) -> list[Face]:
            return [weak] if weak.confidence >= min_confidence else []

    path = tmp_path / "picture.png"
    Image.fromarray(mediagen.photo("coffee")).save(path)
    result = Faces().run(_context(MediaType.IMAGE, path, [], WeakFaces(Settings(home=tmp_path))))
    assert result.segments == []
    (artifact,) = result.artifacts
    assert artifact.confidence == 0.6 and artifact.data["faces"][0]["box"] == [10, 10, 40, 50]


# ---------------------------------------------------------------- merging text runs


def _item(index: int, shot_s: float = SHOT_S) -> ImageItem:
    return ImageItem(f"kf{index:05d}", index * shot_s, (index + 1) * shot_s, np.zeros((1, 1, 3), np.uint8))


def _line(text: str, confidence: float = 0.9, y: int = 300) -> OcrLine:
    return OcrLine(text, confidence, (40, y, 200, 30))


def test_text_in_consecutive_keyframes_is_one_run() -> None:
    frames = [
        (_item(0), [_line("BREAKING NEWS", 0.91, 20), _line("Storm warning", 0.95)]),
        (_item(1), [_line("breaking  news", 0.97, 22), _line("Storm warnlng", 0.80)]),  # case, spaces, a misread
        (_item(2), [_line("Harbour closed", 0.93)]),
        (_item(3), [_line("Storm warning", 0.95)]),  # back after a gap: a new run
    ]
    runs = merge_runs(frames)
    summary = [(run.best.text, run.start, run.end, run.keys) for run in runs]
    assert summary == [
        ("breaking  news", 0.0, 10.0, ["kf00000", "kf00001"]),
        ("Storm warning", 0.0, 10.0, ["kf00000", "kf00001"]),
        ("Harbour closed", 10.0, 15.0, ["kf00002"]),
        ("Storm warning", 15.0, 20.0, ["kf00003"]),
    ]
    breaking = runs[0]
    assert breaking.best.confidence == 0.97 and breaking.best.box[1] == 22 and breaking.best_key == "kf00001"


def test_a_repeated_line_in_one_keyframe_stays_two_runs() -> None:
    frames = [(_item(0), [_line("GOAL", y=10), _line("GOAL", y=300)]), (_item(1), [_line("GOAL", y=300)])]
    runs = merge_runs(frames)
    assert sorted((run.start, run.end) for run in runs) == [(0.0, 5.0), (0.0, 10.0)]


def test_similarity_is_case_and_space_insensitive() -> None:
    assert normalise(" Hello \n World ") == "helloworld"
    assert similarity(normalise("Hello World"), normalise("hello world")) == 1.0
    assert similarity(normalise("Storm warning"), normalise("Harbour closed")) < 0.5


# ---------------------------------------------------------------- OCR over a whole video


def _shot_frame(background: str, caption: str) -> np.ndarray:
    """A photo with a lower-third caption: white bold text with a black outline on a dark band."""
    width, height = SIZE
    image = Image.fromarray(mediagen.photo(background)).convert("RGB").resize(SIZE, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, height - 80, width, height - 20), fill=(0, 0, 0, 140))
    draw.text((width / 2, height - 50), caption, fill=(255, 255, 255), font=mediagen.font(34), anchor="mm",
              stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    return np.asarray(image)


def _captioned_video(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        video = cast(VideoStream, out.add_stream("h264", rate=FPS))
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast"}
        index = 0
        for background, caption in SHOTS:
            pixels = _shot_frame(background, caption)
            for _ in range(round(SHOT_S * FPS)):
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = index
                index += 1
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def _runs_of(artifacts: list[Artifact], caption: str) -> list[Artifact]:
    return [a for a in artifacts if a.text and similarity(normalise(a.text), normalise(caption)) >= 0.8]


@pytest.mark.slow
def test_a_caption_over_several_keyframes_is_one_segment_with_its_time_range(
    settings: Settings, media_dir: Path
) -> None:
    settings.operator_plugins = "mediasift.operators.faces:Faces"
    system = Mediasift(settings)
    try:
        report = system.ingest([_captioned_video(media_dir / "news.mp4")], wait=True)
        assert not report.failed, report.status
        detail = system.describe(report.accepted[0].asset_id)
    finally:
        system.close()
    ocr = [a for a in detail.artifacts if a.operator == "ocr"]
    assert all(a.kind == "ocr" and a.start is not None and a.end is not None for a in ocr)

    # The first caption is on screen in shots 1-2 (0-10 s), the second in shot 3 (10-15 s). However
    # keyframes fall, a caption's range must hold the middle of every shot showing it and no other.
    (first,) = _runs_of(ocr, FIRST_CAPTION)
    (second,) = _runs_of(ocr, SECOND_CAPTION)
    for run, shown in ((first, (0, 1)), (second, (2,))):
        middles = {shot: (shot + 0.5) * SHOT_S for shot in range(len(SHOTS))}
        assert all(run.start <= middles[s] <= run.end for s in shown), run
        assert not any(run.start <= middles[s] <= run.end for s in middles if s not in shown), run
        (line,) = run.data["lines"]
        assert line["confidence"] >= 0.8 and run.confidence == pytest.approx(line["confidence"], abs=1e-4)
        _, top, width, _ = line["box"]
        assert top > SIZE[1] / 2 and width > 200  # the lower third
        assert run.data["start"] == run.start and run.data["end"] == run.end
    assert first.start == 0.0 and first.end <= second.start

    # Faces ran on the same keyframes: the astronaut's shot has one face, with its time range.
    faces = [a for a in detail.artifacts if a.operator == "faces"]
    searchable = [a for a in faces if a.text]
    assert searchable and all(a.text == "face" and a.data["start"] < SHOT_S for a in searchable)
