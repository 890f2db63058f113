"""The held-apart shot-detection set: edited videos with known boundaries, made by a second generator
that shares nothing with the set the detector was tuned on (``eval/shotset.py``) but the scoring.

No threshold in ``mediasift.media.shots.config`` was set or changed after looking at this set; it is
scored beside the tuning set so the two can be compared, and a gap between them is the measure of
how much the tuning fitted its own set.

What differs from the tuning set:

* Sources: no photo or pattern of the tuning set. Procedural scenes drawn from the seed
  (``support.scenegen``: landscapes, cities at dusk, rooms, foliage, still lifes, slides of text,
  a figure before a blurred background) and the two views of scikit-image's stereo motorcycle pair,
  often colour graded (per-channel gains and a gamma).
* Cameras: steady pans that ease in and out, hand-held shake (jitter and a small roll), drifts,
  zooms, still; film grain of 0-5 levels on every frame.
* Cuts: at any frame; one in three joins two related views (the same scene from elsewhere, through
  another grade, or the other eye of the stereo pair).
* Fades and dissolves: no linear mix of pixel values (the detector's own model). Each is shaped
  (smoothstep, ease-in or ease-out) and/or mixed in linear light; cards black, white, grey or any
  colour, held 0-20 frames.
* Traps drawn from the seed: flashes of 1-3 frames at any strength and moment, whip pans and moving
  objects over procedural scenes, between shots that are hand-held or drifting.
* Encodings: x264 at CRF 30-34 (with and without B-frames), no B-frames at the default quality,
  preset medium with adaptive B-frames, and a re-encode (CRF 18, decoded, encoded again at CRF 32
  with a 2 s GOP): compression artefacts and generation loss. Sizes from 640x360 to 1024x576; 24,
  25 and 30 fps.

Groups as in the tuning set (``cuts``, ``gradual``, ``traps``), so the figures line up.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import shotset

from support import scenegen, shotgen

CACHE = Path("/tmp/mediasift-eval-shots-heldout")
GENERATOR_VERSION = "1"

SIZES = ((960, 540), (640, 360), (1024, 576), (768, 432))
REENCODE = "reencode"
ENCODINGS: tuple[dict[str, str], ...] = (
    {"crf": "30"},
    {"crf": "34", "x264-params": "bframes=0"},
    {"x264-params": "bframes=0"},
    {"preset": "medium", "crf": "28", "x264-params": "bframes=3:b-adapt=2"},
    {REENCODE: "1", "crf": "32", "x264-params": "keyint=50"},
)
MOTIONS = ("still", "drift", "zoom", "pan", "shake", "shake")
GREY, TEAL = (128, 128, 128), (30, 110, 120)
SHAPES: tuple[tuple[str, bool], ...] = (
    ("smooth", False),
    ("ease_in", False),
    ("ease_out", False),
    ("linear", True),
    ("smooth", True),
    ("ease_out", True),
)


def _grade(rng: np.random.Generator) -> tuple[float, float, float, float] | None:
    if rng.random() < 0.4:
        return None
    gains = rng.uniform(0.8, 1.15, 3)
    return (float(gains[0]), float(gains[1]), float(gains[2]), float(rng.uniform(0.8, 1.25)))


def _source(rng: np.random.Generator, avoid: str = "") -> tuple[str, int]:
    while True:
        stereo = rng.random() < 0.12
        name = str(rng.choice(scenegen.STEREO)) if stereo else "scene:" + str(rng.choice(scenegen.KINDS))
        if name != avoid:
            return name, int(rng.integers(1 << 30))


def _related(rng: np.random.Generator, before: shotgen.Shot, frames: int) -> shotgen.Shot:
    """Another view of the scene ``before`` shows: the other eye, another crop, another grade."""
    source = before.source
    if source in scenegen.STEREO:
        source = scenegen.STEREO[1 - scenegen.STEREO.index(source)]
    crop = (0.9, 0.8) if before.crop[0] < 0.5 else (0.1, 0.2)
    grade = _grade(rng) if rng.random() < 0.5 else before.grade
    motion = str(rng.choice(MOTIONS))
    return shotgen.Shot(source, frames, motion, crop=crop, seed=before.seed, grade=grade)


def _shots_for(rng: np.random.Generator, joins: list[shotgen.Join], lengths: tuple[int, int]) -> list[shotgen.Shot]:
    shots: list[shotgen.Shot] = []
    for index in range(len(joins) + 1):
        eaten = sum(j.frames for j in joins[max(0, index - 1) : index + 1] if j.kind != "cut")
        frames = eaten + int(rng.integers(*lengths))
        if index and joins[index - 1].kind == "cut" and rng.random() < 1 / 3:
            shots.append(_related(rng, shots[-1], frames))
            continue
        source, seed = _source(rng, shots[-1].source if shots else "")
        crop = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.2, 0.8)))
        shots.append(shotgen.Shot(source, frames, str(rng.choice(MOTIONS)), crop=crop, seed=seed, grade=_grade(rng)))
    return shots


def _gradual_join(rng: np.random.Generator, cards: tuple[tuple[int, int, int], ...], hold: int) -> shotgen.Join:
    curve, light = SHAPES[int(rng.integers(len(SHAPES)))]
    length = int(rng.integers(10, 40))
    if rng.random() < 0.5:
        return shotgen.Join("dissolve", frames=length, curve=curve, light=light)
    black = int(rng.integers(0, hold))
    colour = cards[int(rng.integers(len(cards)))]
    return shotgen.Join("fade", frames=max(4, (length - black) // 2), black=black, colour=colour, curve=curve,
                        light=light)  # fmt: skip


def _trap_shot(rng: np.random.Generator, kind: str) -> shotgen.Shot:
    source, seed = _source(rng)
    frames = int(rng.integers(45, 75))
    if kind == "flash":
        length = int(rng.integers(1, 4))
        strength = (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.3, 0.8)))
        motion = str(rng.choice(("drift", "shake", "pan")))
        return shotgen.Shot(source, frames, motion, flash_at=int(rng.integers(10, frames - 12)), flash_frames=length,
                            flash_strength=strength, seed=seed, grade=_grade(rng))  # fmt: skip
    if kind == "pan":
        return shotgen.Shot(source, frames, "fast_pan", seed=seed)
    return shotgen.Shot(source, frames, "object", crop=(float(rng.uniform(0.2, 0.8)), 0.5), seed=seed)


Plan = tuple[str, str, shotgen.Edit, tuple[int, int], int, dict[str, str]]


def _plans(seed: int) -> list[Plan]:
    """(group, name, edit, size, fps, encoder options) for every video of the set."""
    plans: list[Plan] = []
    for index in range(6):
        rng = np.random.default_rng([seed, 1, index])
        joins = [shotgen.Join("cut")] * 11
        edit = shotgen.Edit(
            _shots_for(rng, joins, (18, 75)), joins, float(rng.uniform(0, 5)), int(rng.integers(1 << 30))
        )
        plans.append(("cuts", f"cuts{index}", edit, SIZES[index % 4], (25, 30, 24)[index % 3], ENCODINGS[index % 5]))
    cards: list[tuple[tuple[tuple[int, int, int], ...], int]] = [((shotgen.BLACK,), 6)] * 5 + [
        ((shotgen.WHITE,), 20),
        ((shotgen.WHITE, shotgen.BLACK), 20),
        ((GREY, TEAL), 20),
    ]
    for index, (colours, hold) in enumerate(cards):
        rng = np.random.default_rng([seed, 2, index])
        if index == len(cards) - 1:  # one more card of a colour drawn from the seed
            red, green, blue = (int(v) for v in rng.integers(0, 256, 3))
            colours = (*colours, (red, green, blue))
        joins = [_gradual_join(rng, colours, hold) for _ in range(7)]
        edit = shotgen.Edit(
            _shots_for(rng, joins, (25, 55)), joins, float(rng.uniform(0, 5)), int(rng.integers(1 << 30))
        )
        plans.append(
            ("gradual", f"gradual{index}", edit, SIZES[(index + 1) % 4], (25, 30, 24)[index % 3], ENCODINGS[index % 5])
        )
    for index, kind in enumerate(("flash", "flash", "flash", "pan", "pan", "pan", "object", "object", "object")):
        rng = np.random.default_rng([seed, 3, index])
        middle = _trap_shot(rng, kind)
        around = []
        for _ in range(2):
            source, shot_seed = _source(rng, middle.source)
            motion = str(rng.choice(("drift", "shake", "still")))
            around.append(shotgen.Shot(source, int(rng.integers(30, 60)), motion, seed=shot_seed, grade=_grade(rng)))
        edit = shotgen.Edit([around[0], middle, around[1]], [shotgen.Join("cut")] * 2, float(rng.uniform(0, 4)),
                            int(rng.integers(1 << 30)))  # fmt: skip
        plans.append(("traps", f"trap{index}-{kind}", edit, SIZES[index % 4], (25, 30, 24)[index % 3],
                      ENCODINGS[index % 5]))  # fmt: skip
    return plans


def _decoded(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _write(path: Path, edit: shotgen.Edit, size: tuple[int, int], fps: int, options: dict[str, str]) -> shotgen.Truth:
    if REENCODE not in options:
        return shotgen.write(path, edit, size, fps, options=options)
    first = path.with_suffix(".first.mp4")
    truth = shotgen.write(first, edit, size, fps, options={"crf": "18"})
    shotgen.write_frames(path, _decoded(first), size, fps, {k: v for k, v in options.items() if k != REENCODE})
    first.unlink()
    return truth


def load(seed: int = 0) -> list[shotset.Video]:
    """The whole set, rendering only what the cache lacks (the first run takes a few minutes).
    Every video, traps included, is drawn from ``seed``."""
    videos = []
    for group, name, edit, size, fps, options in _plans(seed):
        key = hashlib.sha256(json.dumps([GENERATOR_VERSION, repr(edit), size, fps, options]).encode()).hexdigest()[:12]
        path = CACHE / f"{name}-{seed}-{key}.mp4"
        truth_path = path.with_suffix(".json")
        if not truth_path.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            truth = _write(path, edit, size, fps, options)
            truth_path.write_text(json.dumps(asdict(truth)))
        videos.append(shotset.Video(group, name, path, shotset._truth(json.loads(truth_path.read_text()))))
    return videos
