"""Videos and their copies for near-duplicate tests and ``eval/duplicates.py``.

An original is a short edit of real photos (scikit-image's) or procedural scenes, filmed with slow
camera moves and joined by cuts (:mod:`support.shotgen`). Its copies go through PyAV as a user's
tools would make them: decoded and encoded again with another codec and bitrate, scaled, cut to a
part, or put between other shots of another video. An intro is a second of black and two of a
title card (white words on black), the same at the head of different videos.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np
from av.video.stream import VideoStream
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.fingerprint import VideoFingerprint
from mediasift.operators.keyframes import Keyframes
from mediasift.records import StoredSegment

from support import mediagen, shotgen
from support.contexts import memory_context

SIZE = (320, 180)
FPS = 25
PHOTOS = shotgen.COLOUR_PHOTOS + shotgen.GREY_PHOTOS
MOTIONS = ("drift", "zoom", "still", "pan")


@dataclass(frozen=True)
class Copy:
    """How a copy differs from its original: ``codec`` and ``bit_rate`` of the new encoding,
    ``size`` (width, height), the part kept (seconds; ``end_s`` None: to the end), the frame rate
    (frames repeated or dropped, as a converter does) and a grade (``gamma``, ``contrast`` about mid-grey)."""

    codec: str = "libx264"
    bit_rate: int | None = None
    size: tuple[int, int] = SIZE
    start_s: float = 0.0
    end_s: float | None = None
    fps: int = FPS
    gamma: float = 1.0
    contrast: float = 1.0


def edit(
    seed: int, shots: int = 5, sources: Sequence[str] = PHOTOS, seconds: tuple[float, float] = (2.0, 4.0)
) -> shotgen.Edit:
    """``shots`` shots of distinct ``sources`` drawn from ``seed``, 2-4 s each, joined by cuts."""
    rng = np.random.default_rng(seed)
    names = [str(name) for name in rng.choice(list(sources), size=shots, replace=len(sources) < shots)]
    made = [
        shotgen.Shot(
            name,
            round(float(rng.uniform(*seconds)) * FPS),
            str(rng.choice(MOTIONS)),
            crop=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
            seed=int(rng.integers(1 << 16)),
        )
        for name in names
    ]
    return shotgen.Edit(made, [shotgen.Join("cut")] * (shots - 1))


def frames(made: shotgen.Edit, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    rendered, _ = shotgen.render(made, size)
    return rendered


def intro(title: str, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    """One second of black, then two of ``title`` in white on black."""
    black = np.zeros((size[1], size[0], 3), np.uint8)
    card = Image.fromarray(black)
    ImageDraw.Draw(card).multiline_text(
        (size[0] / 2, size[1] / 2), title, fill=(255, 255, 255), font=mediagen.font(size[1] // 9),
        anchor="mm", align="center",
    )  # fmt: skip
    pixels = np.asarray(card)
    for _ in range(FPS):
        yield black
    for _ in range(2 * FPS):
        yield pixels


def write(path: Path, pictures: Iterable[np.ndarray], size: tuple[int, int] = SIZE, copy: Copy = Copy()) -> Path:
    """Encode RGB ``pictures`` at ``copy.fps`` with ``copy``'s codec and bitrate, scaled to ``copy.size``."""
    with av.open(str(path), "w") as out:
        stream = cast(VideoStream, out.add_stream(copy.codec, rate=copy.fps))
        stream.width, stream.height = copy.size
        stream.pix_fmt = "yuvj420p" if copy.codec == "mjpeg" else "yuv420p"
        if copy.bit_rate:
            stream.bit_rate = copy.bit_rate
        if copy.codec == "libx264":
            stream.options = {"preset": "veryfast"}
        for index, image in enumerate(pictures):
            if (image.shape[1], image.shape[0]) != copy.size:
                image = cv2.resize(image, copy.size, interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decoded(path: Path, start_s: float = 0.0, end_s: float | None = None) -> Iterator[np.ndarray]:
    """The RGB frames of ``path`` shown from ``start_s`` to ``end_s``."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            seconds = float(frame.time or 0.0)
            if seconds < start_s - 1e-6:
                continue
            if end_s is not None and seconds >= end_s - 1e-6:
                break
            yield frame.to_ndarray(format="rgb24")


def copy_of(original: Path, path: Path, copy: Copy) -> Path:
    """``original`` decoded and encoded again as ``copy`` says."""
    pictures: Iterable[np.ndarray] = decoded(original, copy.start_s, copy.end_s)
    if copy.fps != FPS:
        kept = list(pictures)
        pictures = (kept[index * FPS // copy.fps] for index in range(len(kept) * copy.fps // FPS))
    if copy.gamma != 1.0 or copy.contrast != 1.0:
        pictures = (_graded(picture, copy.gamma, copy.contrast) for picture in pictures)
    return write(path, pictures, copy=copy)


def _graded(picture: np.ndarray, gamma: float, contrast: float) -> np.ndarray:
    levels = (picture.astype(np.float32) / 255.0) ** gamma
    return (np.clip((levels - 0.5) * contrast + 0.5, 0.0, 1.0) * 255).round().astype(np.uint8)


def embedded(inner: Path, before: shotgen.Edit, after: shotgen.Edit, path: Path) -> Path:
    """A video of ``before``'s shots, then every frame of ``inner``, then ``after``'s shots."""

    def pictures() -> Iterator[np.ndarray]:
        yield from frames(before)
        yield from decoded(inner)
        yield from frames(after)

    return write(path, pictures())


def fingerprint(path: Path) -> dict[str, Any]:
    """The fingerprint operator's data for ``path``, after the keyframes operator's shots, both run as
    the pipeline runs them (without a database)."""
    door = Inference(Settings(home=path.parent / "home"))
    blobs: dict[str, bytes] = {}
    keyframes = Keyframes()
    found = keyframes.run(
        memory_context(door, path, MediaType.VIDEO, params=keyframes.params(door.settings), blobs=blobs)
    )
    stored = [
        StoredSegment(number, keyframes.name, s.kind, s.key, s.start, s.end, s.region, s.text, s.confidence, s.data)
        for number, s in enumerate(found.segments)
    ]
    operator = VideoFingerprint()
    context = memory_context(
        door, path, MediaType.VIDEO, params=operator.params(door.settings), segments=stored, blobs=blobs
    )
    (artifact,) = operator.run(context).artifacts
    return artifact.data


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def remuxed(original: Path, path: Path) -> Path:
    """``original``'s video packets, untouched, in another container (``path``'s suffix): the same
    coded stream in a file of other bytes."""
    with av.open(str(original)) as source, av.open(str(path), "w") as out:
        video = source.streams.video[0]
        stream = out.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return path
