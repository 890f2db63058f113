"""Edited test videos with known shot boundaries: hard cuts, fades (through black, white or any flat
colour card), dissolves, and traps.

A video is an :class:`Edit`: shots (a real photo from scikit-image, a synthetic pattern or a
procedural scene of :mod:`support.scenegen`, filmed with a slow camera move, a zoom, a moving
object, a steady pan, a hand-held shake or a fast pan, optionally colour graded) joined by
transitions. Rendering writes H.264 in MP4 and returns the truth: every transition's kind and frame
span, and every trap's (a camera flash, a fast pan, a moving object: events inside a shot that are
no boundary).

How a fade or dissolve blends is a :class:`Join`'s ``curve`` and ``light``. The default, a linear
mix of the pixel values, is exactly the shot detector's own model of a dissolve (its middle frame is
the mix of its ends), so a test that means to show the detector finds real transitions should ask
for another curve ("smooth", "ease_in", "ease_out") or a blend in linear light, and for grain
(``Edit.grain``), which no detector's rule predicts. ``eval/shotset.py``, the set the detector was
tuned on, keeps the linear default.

Frame numbers count from 0. A cut at frame ``k`` means frame ``k`` is the first of the new shot; a
gradual transition spans frames ``start`` (the first that is not clean old shot) to ``end`` (the
first clean frame of the new shot).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from PIL import Image, ImageDraw

from support import mediagen, scenegen

COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")
GREY_PHOTOS = ("camera", "brick", "coins", "moon", "grass", "gravel", "clock", "page", "cell")
PATTERNS = ("gradient", "checker", "blobs", "stripes")
MOTIONS = ("still", "drift", "zoom", "object", "pan", "shake")
CURVES = ("linear", "smooth", "ease_in", "ease_out")


@dataclass(frozen=True)
class Shot:
    """``source`` is a photo name, a pattern name or a :mod:`support.scenegen` scene; ``motion`` one
    of MOTIONS or "fast_pan". ``grade`` is (red, green, blue gains, gamma): the same view through
    another camera or grade. A flash brightens its first frame by ``flash_strength[0]`` of the way
    to white and the rest by ``flash_strength[1]``."""

    source: str
    frames: int
    motion: str = "drift"
    crop: tuple[float, float] = (0.5, 0.5)  # where in the source the camera looks (0-1 x, y)
    flash_at: int | None = None  # frame within the shot where a camera flash starts
    flash_frames: int = 2
    seed: int = 0
    grade: tuple[float, float, float, float] | None = None
    flash_strength: tuple[float, float] = (0.85, 0.6)


BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Join:
    """How a shot follows the previous one: "cut", "fade" (out to a flat card, the card, in) or
    "dissolve". ``curve`` (one of CURVES) shapes how the share of the new picture grows over the
    transition; ``light`` mixes in linear light (as a camera or a colour-managed editor does) rather
    than in the gamma-coded pixel values."""

    kind: str
    frames: int = 0  # dissolve length, or each of fade-out and fade-in
    black: int = 0  # frames of the card between fade-out and fade-in
    colour: tuple[int, int, int] = BLACK  # the card a fade passes through (RGB)
    curve: str = "linear"
    light: bool = False


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    card: str = ""  # a fade: the colour of the card it passes through, "#rrggbb"


@dataclass
class Truth:
    frames: int
    fps: int
    size: tuple[int, int]
    transitions: list[Span] = field(default_factory=list)
    traps: list[Span] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class Edit:
    """``grain``: the standard deviation (in 0-255 levels) of the film grain or sensor noise added to
    every frame, fresh each frame, drawn from ``grain_seed``."""

    shots: Sequence[Shot]
    joins: Sequence[Join]  # len(shots) - 1
    grain: float = 0.0
    grain_seed: int = 0


# --------------------------------------------------------------------------------------- sources


def source_image(name: str, size: tuple[int, int], seed: int) -> np.ndarray:
    """An RGB canvas 40% larger than ``size`` (width, height) for the camera to move over."""
    width, height = round(size[0] * 1.4), round(size[1] * 1.4)
    if scenegen.is_scene(name):
        return scenegen.scene(name, (width, height), seed)
    if name in PATTERNS:
        return _pattern(name, (width, height), np.random.default_rng(seed))
    return scenegen.cover(mediagen.photo(name), (width, height))


def _pattern(name: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    hue = rng.uniform(0, 180)
    if name == "gradient":
        hsv = np.empty((height, width, 3), np.uint8)
        hsv[..., 0] = (hue + np.linspace(0, 60, width)[None, :]) % 180
        hsv[..., 1] = 200
        hsv[..., 2] = np.linspace(90, 250, height)[:, None]
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if name == "checker":
        cell = int(rng.integers(24, 64))
        ys, xs = np.mgrid[0:height, 0:width]
        mask = ((xs // cell + ys // cell) % 2).astype(bool)
        image = np.empty((height, width, 3), np.uint8)
        image[:] = rng.integers(0, 256, 3)
        image[mask] = rng.integers(0, 256, 3)
        return image
    if name == "blobs":
        small = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    stripes = np.empty((height, width, 3), np.uint8)
    period = int(rng.integers(20, 80))
    band = (np.arange(width) // period) % 3
    colours = rng.integers(0, 256, (3, 3)).astype(np.uint8)
    stripes[:] = colours[band][None, :, :]
    return stripes


# --------------------------------------------------------------------------------------- one shot


def render_shot(shot: Shot, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The shot's frames (RGB, ``size`` = width, height), flash included."""
    frames = _fast_pan(shot, size) if shot.motion == "fast_pan" else _camera(shot, size)
    for index, frame in enumerate(frames):
        if shot.grade is not None:
            frame = scenegen.grade(frame, shot.grade[:3], shot.grade[3])
        if shot.flash_at is not None and shot.flash_at <= index < shot.flash_at + shot.flash_frames:
            strength = shot.flash_strength[0] if index == shot.flash_at else shot.flash_strength[1]
            frame = (frame + (255 - frame.astype(np.float32)) * strength).astype(np.uint8)
        yield frame


def _camera(shot: Shot, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A slow drift or zoom over the canvas, a still camera with a disk moving across, a steady pan
    (easing in and out) across the whole canvas, or a hand-held camera: a drift with a jitter of a
    few pixels and a fraction of a degree that wanders from frame to frame."""
    width, height = size
    canvas = source_image(shot.source, size, shot.seed)
    spare_x, spare_y = canvas.shape[1] - width, canvas.shape[0] - height
    cx, cy = shot.crop
    if shot.motion == "shake":
        yield from _handheld(shot, canvas, size)
        return
    for index in range(shot.frames):
        progress = index / max(1, shot.frames - 1)
        if shot.motion == "pan":
            eased = progress * progress * (3 - 2 * progress)
            left = round(spare_x * (eased if cx <= 0.5 else 1 - eased))
            yield np.ascontiguousarray(canvas[round(spare_y * cy) : round(spare_y * cy) + height, left : left + width])
            continue
        if shot.motion == "zoom":
            scale = 1.0 - 0.15 * progress
            w, h = round(width * (1 + 0.4 * scale) / 1.4), round(height * (1 + 0.4 * scale) / 1.4)
            left, top = round((canvas.shape[1] - w) * cx), round((canvas.shape[0] - h) * cy)
            yield cv2.resize(canvas[top : top + h, left : left + w], size, interpolation=cv2.INTER_LINEAR)
            continue
        drift = 0.25 * progress if shot.motion == "drift" else 0.0
        left = round(spare_x * min(1.0, max(0.0, cx - 0.125 + drift)))
        top = round(spare_y * cy)
        frame = np.ascontiguousarray(canvas[top : top + height, left : left + width])
        if shot.motion == "object":
            radius = max(8, height // 9)
            x = round(-radius + (width + 2 * radius) * progress)
            cv2.circle(frame, (x, height // 2), radius, (250, 200, 30), -1, lineType=cv2.LINE_AA)
        yield frame


def _handheld(shot: Shot, canvas: np.ndarray, size: tuple[int, int]) -> Iterator[np.ndarray]:
    width, height = size
    rng = np.random.default_rng(shot.seed + 1)
    spare_x, spare_y = canvas.shape[1] - width, canvas.shape[0] - height
    amplitude = width / 160  # pixels of fresh jitter per frame
    jx = jy = angle = 0.0
    for index in range(shot.frames):
        progress = index / max(1, shot.frames - 1)
        jx = 0.8 * jx + rng.normal(0, amplitude)
        jy = 0.8 * jy + rng.normal(0, amplitude)
        angle = 0.8 * angle + rng.normal(0, 0.25)
        left = spare_x * min(1.0, max(0.0, shot.crop[0] - 0.125 + 0.2 * progress)) + jx
        top = spare_y * shot.crop[1] + jy
        # output pixel (x, y) shows canvas point R (x - w/2, y - h/2) + (left + w/2, top + h/2)
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        turn[:, 2] += (left, top)
        yield cv2.warpAffine(canvas, turn, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)  # fmt: skip


def _fast_pan(shot: Shot, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A whip pan across a strip of mirrored photos: the camera speeds up over five frames to an
    eighth of the frame width per frame, holds, and slows down, blurred along the motion by as many
    pixels as it moves in a frame, as a real camera blurs it."""
    width, height = size
    if scenegen.is_scene(shot.source):
        tile = scenegen.scene(shot.source, (round(height * 1.5), height), shot.seed)
    else:
        tile = scenegen.cover(mediagen.photo(shot.source), (round(height * 1.5), height))
    top = max(1, width // 8)
    speeds = [top * min(1.0, (index + 1) / 5, (shot.frames - index) / 5) for index in range(shot.frames)]
    needed = width + round(sum(speeds)) + 1
    strip = np.concatenate([tile, tile[:, ::-1]] * (needed // (2 * tile.shape[1]) + 1), axis=1)
    left = 0.0
    for speed in speeds:
        view = np.ascontiguousarray(strip[:, round(left) : round(left) + width])
        kernel = max(1, round(speed)) // 2 * 2 + 1
        yield cv2.blur(view, (kernel, 1)) if kernel > 1 else view
        left += speed


def subtitled_pan(
    seconds: float,
    subtitles: Sequence[tuple[str, float, float]] = (),
    size: tuple[int, int] = (480, 270),
    fps: int = 25,
) -> Iterator[np.ndarray]:
    """One shot of ``seconds``: the camera pans across a photo; ``subtitles`` (text, start, end in
    seconds) are burned in low, white with a black outline, as subtitles are."""
    width, height = size
    wide = Image.fromarray(mediagen.photo("chelsea")).convert("RGB").resize((round(width * 1.4), height))
    frames = round(seconds * fps)
    for index in range(frames):
        left = round((wide.width - width) * index / max(1, frames - 1))
        image = wide.crop((left, 0, left + width, height))
        draw = ImageDraw.Draw(image)
        for text, start, end in subtitles:
            if start <= index / fps < end:
                draw.text((width / 2, height - 30), text, fill=(255, 255, 255), font=mediagen.font(22),
                          anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
        yield np.asarray(image)


# --------------------------------------------------------------------------------------- the edit


def _eaten(join: Join) -> int:
    """Frames of each adjoining shot a join turns into transition (a cut turns none)."""
    return join.frames if join.kind in ("fade", "dissolve") else 0


def render(edit: Edit, size: tuple[int, int]) -> tuple[Iterator[np.ndarray], Truth]:
    """Frames of the whole edit and its truth (computed before any frame is drawn).

    A dissolve of N frames blends the last N frames of one shot with the first N of the next, both
    still moving; a fade blends the last N frames of one shot into its card (black: darkens them) and
    the card into the first N of the next.
    """
    truth = Truth(frames=0, fps=0, size=size)
    position = 0  # where the previous shot's last frame would end without a join
    for index, shot in enumerate(edit.shots):
        origin = position  # where this shot's first frame lands
        if index:
            join = edit.joins[index - 1]
            eaten = _eaten(join)
            origin += -eaten if join.kind == "dissolve" else join.black
            card = "#{:02x}{:02x}{:02x}".format(*join.colour) if join.kind == "fade" else ""
            truth.transitions.append(Span(join.kind, position - eaten, origin + eaten, card))
        if shot.flash_at is not None:
            flash = origin + shot.flash_at
            truth.traps.append(Span("flash", flash, flash + shot.flash_frames))
        if shot.motion in ("fast_pan", "object"):
            kind = "pan" if shot.motion == "fast_pan" else "object"
            truth.traps.append(Span(kind, origin, origin + shot.frames))
        position = origin + shot.frames
    truth.frames = position
    frames = _frames(edit, size)
    return (_grainy(frames, edit.grain, edit.grain_seed) if edit.grain else frames), truth


def _grainy(frames: Iterator[np.ndarray], sigma: float, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for frame in frames:
        noise = np.empty(frame.shape[:2], np.int16)
        cv2.setRNGSeed(int(rng.integers(1 << 31)))  # OpenCV's generator: fast, and seeded per frame
        cv2.randn(noise, 0, sigma)
        yield cv2.add(frame, cv2.merge([noise] * 3), dtype=cv2.CV_8U)


def _frames(edit: Edit, size: tuple[int, int]) -> Iterator[np.ndarray]:
    tail: list[np.ndarray] = []  # the previous shot's frames that the next join consumes
    for index, shot in enumerate(edit.shots):
        incoming = edit.joins[index - 1] if index else None
        outgoing_eaten = _eaten(edit.joins[index]) if index < len(edit.joins) else 0
        frames = render_shot(shot, size)
        if incoming is not None:
            head = [next(frames) for _ in range(_eaten(incoming))]
            yield from _join(incoming, tail, head)
        own = shot.frames - (_eaten(incoming) if incoming else 0) - outgoing_eaten
        for _ in range(own):
            yield next(frames)
        tail = list(frames)


def _shape(curve: str, share: float) -> float:
    if curve == "smooth":
        return share * share * (3 - 2 * share)
    if curve == "ease_in":
        return share * share
    if curve == "ease_out":
        return 1 - (1 - share) ** 2
    return share


def _mix(a: np.ndarray, b: np.ndarray, share: float, join: Join) -> np.ndarray:
    """``a`` with ``share`` (before the curve) of ``b``: a shaped mix, in linear light if asked."""
    share = _shape(join.curve, share)
    if not join.light:
        return ((1 - share) * a.astype(np.float32) + share * b.astype(np.float32)).round().astype(np.uint8)
    la, lb = ((x.astype(np.float32) / 255.0) ** 2.2 for x in (a, b))
    return (((1 - share) * la + share * lb) ** (1 / 2.2) * 255).round().astype(np.uint8)


def _join(join: Join, tail: list[np.ndarray], head: list[np.ndarray]) -> Iterator[np.ndarray]:
    steps = len(head)
    if join.curve != "linear" or join.light:
        yield from _shaped_join(join, tail, head)
        return
    if join.kind == "dissolve":
        for step, (a, b) in enumerate(zip(tail, head, strict=True), start=1):
            alpha = step / (steps + 1)
            yield ((1 - alpha) * a.astype(np.float32) + alpha * b).round().astype(np.uint8)
    elif join.kind == "fade":
        card = np.asarray(join.colour, np.float64)
        for step, a in enumerate(tail, start=1):
            share = step / (steps + 1)
            yield (a * (1 - share) + card * share).round().astype(np.uint8)
        for _ in range(join.black):
            yield np.broadcast_to(card.astype(np.uint8), (head[0] if head else tail[0]).shape).copy()
        for step, b in enumerate(head, start=1):
            share = step / (steps + 1)
            yield (b * share + card * (1 - share)).round().astype(np.uint8)


def _shaped_join(join: Join, tail: list[np.ndarray], head: list[np.ndarray]) -> Iterator[np.ndarray]:
    """A join whose blend is not a linear mix of pixel values (the same spans as :func:`_join`)."""
    steps = len(head)
    if join.kind == "dissolve":
        for step, (a, b) in enumerate(zip(tail, head, strict=True), start=1):
            yield _mix(a, b, step / (steps + 1), join)
    elif join.kind == "fade":
        shape = (head[0] if head else tail[0]).shape
        card = np.broadcast_to(np.asarray(join.colour, np.uint8), shape)
        for step, a in enumerate(tail, start=1):
            yield _mix(a, card, step / (steps + 1), join)
        for _ in range(join.black):
            yield card.copy()
        for step, b in enumerate(head, start=1):
            yield _mix(card, b, step / (steps + 1), join)


def write(path: Path, edit: Edit, size: tuple[int, int], fps: int = 25, options: dict[str, str] | None = None) -> Truth:
    """Render ``edit`` to H.264 (libx264 veryfast, yuv420p) in MP4 at ``path``; ``options`` go to the
    encoder (e.g. ``{"x264-params": "scenecut=0"}``)."""
    frames, truth = render(edit, size)
    truth.fps = fps
    write_frames(path, frames, size, fps, options)
    return truth


def write_frames(
    path: Path,
    frames: Iterable[np.ndarray],
    size: tuple[int, int],
    fps: int = 25,
    options: dict[str, str] | None = None,
    codec: str = "h264",
    rotation: int = 0,
    sample_aspect_ratio: Fraction | None = None,
    audio_wav: Path | None = None,
) -> Path:
    """Encode RGB frames as :func:`write` does; ``codec`` "libx265" writes HEVC (preset fast).
    ``rotation`` (clockwise degrees) and ``sample_aspect_ratio`` are how a player is told to show the
    frames, as :func:`support.mediagen.make_video` writes them. ``audio_wav`` (any audio file) is
    muxed as AAC, cut to the frames' length."""
    with av.open(str(path), "w") as out:
        stream = cast(VideoStream, out.add_stream(codec, rate=fps))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast" if codec == "h264" else "fast", **(options or {})}
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        sound: tuple[AudioStream, np.ndarray, int] | None = None
        if audio_wav is not None:
            samples, rate = mediagen.read_audio(audio_wav)
            layout = "mono" if samples.shape[0] == 1 else "stereo"
            sound = cast(AudioStream, out.add_stream("aac", rate=rate, layout=layout)), samples[:2], rate
        index = -1
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            audio, samples, rate = sound
            mediagen.encode_audio(out, audio, samples[:, : round((index + 1) / fps * rate)], rate)
    return path


def random_edit(
    rng: np.random.Generator,
    shots: int,
    joins: Sequence[str],
    shot_frames: tuple[int, int] = (25, 75),
    gradual_frames: tuple[int, int] = (12, 38),
    fade_colours: Sequence[tuple[int, int, int]] = (BLACK,),
    card_frames: tuple[int, int] = (0, 6),
) -> Edit:
    """``shots`` shots of random sources and camera moves, each join drawn from ``joins``.

    One cut in four joins two views of the same source (another crop, the same colours), the
    hardest kind of cut for a histogram. A fade's ``gradual_frames`` is its whole length; it holds
    its card for ``card_frames`` (low inclusive, high exclusive) of them, a card drawn from
    ``fade_colours`` (one colour draws nothing, so such edits stay as they were).
    """
    made: list[Join] = []
    for _ in range(shots - 1):
        kind = str(rng.choice(joins))
        length = int(rng.integers(*gradual_frames))
        if kind == "fade":
            black = int(rng.integers(*card_frames))
            colour = fade_colours[int(rng.integers(len(fade_colours)))] if len(fade_colours) > 1 else fade_colours[0]
            made.append(Join("fade", frames=max(4, (length - black) // 2), black=black, colour=colour))
        else:
            made.append(Join(kind, frames=length if kind == "dissolve" else 0))
    sources = list(COLOUR_PHOTOS + GREY_PHOTOS + PATTERNS)
    chosen: list[Shot] = []
    for index in range(shots):
        eaten = (_eaten(made[index - 1]) if index else 0) + (_eaten(made[index]) if index < len(made) else 0)
        same = index > 0 and made[index - 1].kind == "cut" and rng.random() < 0.25
        others = [name for name in sources if not chosen or name != chosen[-1].source]
        source = chosen[-1].source if same else str(rng.choice(others))
        crop = (float(rng.uniform(0.3, 0.95)), 0.5)
        if same:  # the other side of the same picture: a jump cut
            crop = (0.05, 0.0) if chosen[-1].crop[0] > 0.5 else (0.95, 1.0)
        frames = eaten + int(rng.integers(*shot_frames))
        motion = str(rng.choice(MOTIONS[:3]))
        chosen.append(Shot(source, frames, motion, crop=crop, seed=int(rng.integers(1 << 30))))
    return Edit(chosen, made)
