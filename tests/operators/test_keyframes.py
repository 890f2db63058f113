"""The keyframes operator: shots, a keyframe for each as it is shown on screen, and a strip of them."""

from __future__ import annotations

import io
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.keyframes import Keyframes
from mediasift.pipeline.operator import OperatorContext
from mediasift.service import Mediasift

from support import mediagen, shotgen
from support.contexts import memory_context
from support.shotgen import Edit, Join, Shot

SIZE = (320, 180)


def _context(path: Path, blobs: dict[str, bytes]) -> OperatorContext:
    door = Inference(Settings(home=path.parent / "home"))
    return memory_context(door, path, MediaType.VIDEO, params=Keyframes().params(door.settings), blobs=blobs)


def test_the_operator_emits_shots_keyframes_and_a_strip(tmp_path: Path) -> None:
    edit = Edit(
        [Shot("astronaut", 33, "shake"), Shot("coffee", 27, "zoom"), Shot("scene:city", 36, "pan", seed=3),
         Shot("camera", 31, "object")],
        [Join("cut")] * 3,
        grain=2.0,
    )  # fmt: skip
    path = tmp_path / "cuts.mp4"
    truth = shotgen.write(path, edit, SIZE)
    blobs: dict[str, bytes] = {}
    result = Keyframes().run(_context(path, blobs))
    shots = [s for s in result.segments if s.kind == "shot"]
    keyframes = [s for s in result.segments if s.kind == "keyframe"]
    assert [s.key for s in shots] == ["shot00001", "shot00002", "shot00003", "shot00004"]
    assert [s.key for s in keyframes] == ["kf00001", "kf00002", "kf00003", "kf00004"]
    cuts = [span.start / truth.fps for span in truth.transitions]  # 1.32 s, 2.4 s, 3.84 s
    assert [s.start for s in shots[1:]] == pytest.approx(cuts, abs=1.01 / truth.fps), "each cut within a frame"
    for shot, keyframe in zip(shots, keyframes, strict=True):
        assert (keyframe.start, keyframe.end) == (shot.start, shot.end) and keyframe.data["shot"] == shot.key
        assert shot.start is not None and shot.end is not None
        assert shot.start <= shot.data["keyframe_time"] == keyframe.data["time"] < shot.end
        image = Image.open(io.BytesIO(blobs[keyframe.data["blob"]]))
        assert image.format == "JPEG" and image.size == (keyframe.data["width"], keyframe.data["height"]) == SIZE
    by_kind: dict[str, list] = {}
    for artifact in result.artifacts:
        by_kind.setdefault(artifact.kind, []).append(artifact)
    assert [a.segment_key for a in by_kind["shot"]] == [s.key for s in shots]
    assert [a.blob_sha256 for a in by_kind["shot"]] == [k.data["blob"] for k in keyframes]
    assert by_kind["shot"][1].data["transition_in"] == "cut" and by_kind["shot"][1].data["start"] > 0
    (strip,) = by_kind["thumbnail_strip"]
    image = Image.open(io.BytesIO(blobs[strip.blob_sha256]))
    assert image.size == (4 * 160, 90) == (strip.data["width"], strip.data["height"])


SCENES = ("coffee", "rocket", "chelsea")


@pytest.mark.parametrize(
    ("rotation", "aspect", "shown"),
    [
        (270, None, (240, 320)),  # a phone video stored landscape, shown portrait
        (0, Fraction(16, 11), (1024, 576)),  # anamorphic PAL: 704x576 pixels 16:11 wide, shown 16:9
        (90, Fraction(16, 11), (576, 1024)),
    ],
    ids=["rotated", "anamorphic", "both"],
)
def test_the_operator_stores_keyframes_as_they_are_shown(
    tmp_path: Path, rotation: int, aspect: Fraction | None, shown: tuple[int, int]
) -> None:
    """The file's own rotation and pixel shape make the keyframes' shape, the stored JPEG's pixels as
    the width and height in its data (the asset's metadata is not asked). Before, an anamorphic video
    gave squeezed 704x576 keyframes."""
    size = (320, 240) if aspect is None else (704, 576)
    scenes = [mediagen.photo(name) for name in SCENES]
    path = mediagen.make_video(tmp_path / "shown.mp4", 3.0, size=size, scenes=scenes, rotation=rotation,
                               sample_aspect_ratio=aspect)  # fmt: skip
    blobs: dict[str, bytes] = {}
    result = Keyframes().run(_context(path, blobs))
    keyframes = [s for s in result.segments if s.kind == "keyframe"]
    assert len(keyframes) == 3
    for keyframe in keyframes:
        image = Image.open(io.BytesIO(blobs[keyframe.data["blob"]]))
        assert image.size == (keyframe.data["width"], keyframe.data["height"]) == shown
    shot = next(a for a in result.artifacts if a.kind == "shot")
    assert (shot.data["keyframe_width"], shot.data["keyframe_height"]) == shown


@pytest.mark.slow
def test_an_ingested_video_lists_its_shots_with_keyframes(settings: Settings, media_dir: Path) -> None:
    """The whole video pipeline, models included: the shots reach ``describe`` as artifacts."""
    rocket = mediagen.photo("rocket")
    scenes = [mediagen.photo("coffee"), rocket, rocket[100:, 150:]]  # the third a closer view of the second
    path = mediagen.make_video(media_dir / "three.mp4", 3.0, size=(320, 240), scenes=scenes, cuts=(23, 52))
    system = Mediasift(settings)
    asset_id = system.ingest([path], wait=True).accepted[0].asset_id
    artifacts = system.describe(asset_id).artifacts
    shots = [a for a in artifacts if a.kind == "shot"]
    edges = [0.0, 23 / 25, 52 / 25, 3.0]  # cuts at 0.92 s and 2.08 s
    assert [(s.data["start"], s.data["end"]) for s in shots] == [
        (pytest.approx(a, abs=0.041), pytest.approx(b, abs=0.041)) for a, b in pairwise(edges)
    ]
    assert all(s.blob_sha256 and s.data["keyframe_blob"] == s.blob_sha256 for s in shots)
    assert all(s.data["start"] <= s.data["keyframe_time"] < s.data["end"] for s in shots)
    assert [s.data["transition_in"] for s in shots] == ["start", "cut", "cut"]
    assert any(a.kind == "thumbnail_strip" for a in artifacts)
    image = Image.open(io.BytesIO(system.blobs.read_bytes(shots[1].blob_sha256)))
    assert image.size == (320, 240)


def _four_photos_damaged(path: Path) -> Path:
    """Four 2 s shots of photos (H.264, a random-access point a second), 20 kB of random bytes written
    at 70 % of the file: the frames decoded in one pass survive, but a seek to the fourth second
    starts from a broken picture and the shot's keyframe does not decode."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = 640, 360, "yuv420p", {"g": "25"}
        for index, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
            picture = np.asarray(Image.fromarray(mediagen.photo(name)).convert("RGB").resize((640, 360)))
            for k in range(50):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(picture, k, axis=1)), format="rgb24")
                frame.pts = index * 50 + k
                out.mux(stream.encode(frame))
        out.mux(stream.encode())
    data = bytearray(path.read_bytes())
    middle = int(len(data) * 0.7)
    data[middle : middle + 20_000] = np.random.default_rng(0).bytes(20_000)
    damaged = path.with_name("damaged.mp4")
    damaged.write_bytes(bytes(data))
    return damaged


def test_a_shot_whose_keyframe_does_not_decode_gets_another_of_its_frames(tmp_path: Path) -> None:
    path = _four_photos_damaged(tmp_path / "photos.mp4")
    result = Keyframes().run(_context(path, {}))
    shots = [s for s in result.segments if s.kind == "shot"]
    keyframes = {k.data["shot"]: k for k in result.segments if k.kind == "keyframe"}
    assert len(shots) == 4 and set(keyframes) == {s.key for s in shots}, "every shot keeps a picture"
    for shot in shots:
        time = keyframes[shot.key].data["time"]
        assert shot.start is not None and shot.end is not None
        assert shot.start <= time < shot.end and shot.data["keyframe_time"] == time
