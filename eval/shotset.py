"""The shot-detection evaluation set: edited videos with known boundaries, written once and cached.

Three groups, so precision and recall can be told apart per kind of boundary:

* ``cuts``: shots joined by hard cuts only; one cut in four joins two views of the same source.
* ``gradual``: shots joined by fades and dissolves of 0.5-1.5 s, while both shots keep moving. In
  six videos the fades pass through 0-5 black frames; in three more, more of the joins are fades,
  through 0-19 frames of a white card, a white or black one, or a mid-grey or blue one.
* ``traps``: events inside one shot that are no boundary (a camera flash of 1-3 frames, a whip pan,
  a still camera with a disk moving across), between shots joined by hard cuts.

Sources are real photos bundled with scikit-image and synthetic patterns; resolutions from
480x270 to 1280x720; 24, 25 and 30 fps; x264 with its defaults and with scene-cut I-frames off, no
B-frames or a short GOP, since how a file was encoded changes what a fast decoder can skip.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import shotgen

CACHE = Path("/tmp/mediasift-eval-shots")
GENERATOR_VERSION = "4"

SIZES = ((1280, 720), (854, 480), (640, 360), (480, 270))
ENCODINGS: tuple[dict[str, str], ...] = (
    {},
    {"x264-params": "scenecut=0"},
    {"x264-params": "bframes=0"},
    {"x264-params": "keyint=30:bframes=5"},
)
GREY, BLUE = (128, 128, 128), (40, 90, 160)
# per gradual video: the cards its fades pass through, for how many frames, and the joins drawn from
Cards = tuple[tuple[tuple[int, int, int], ...], tuple[int, int], tuple[str, ...]]
BLACK_FADES: Cards = ((shotgen.BLACK,), (0, 6), ("fade", "dissolve", "dissolve"))
CARD_JOINS = ("fade", "fade", "fade", "dissolve", "dissolve")
CARDS: tuple[Cards, ...] = (
    *[BLACK_FADES] * 6,
    ((shotgen.WHITE,), (0, 20), CARD_JOINS),
    ((shotgen.WHITE, shotgen.BLACK), (0, 20), CARD_JOINS),
    ((GREY, BLUE), (0, 20), CARD_JOINS),
)


@dataclass(frozen=True)
class Video:
    group: str
    name: str
    path: Path
    truth: shotgen.Truth


def _plans(seed: int) -> list[tuple[str, str, shotgen.Edit, tuple[int, int], int, dict[str, str]]]:
    """(group, name, edit, size, fps, encoder options) for every video of the set."""
    plans = []
    for index in range(6):
        rng = np.random.default_rng(seed + 100 + index)
        edit = shotgen.random_edit(rng, 12, ["cut"], shot_frames=(25, 70))
        plans.append(("cuts", f"cuts{index}", edit, SIZES[index % 4], (25, 30, 24)[index % 3], ENCODINGS[index % 4]))
    for index, (cards, held, joins) in enumerate(CARDS):
        rng = np.random.default_rng(seed + 200 + index)
        edit = shotgen.random_edit(
            rng, 8, joins, shot_frames=(30, 60), gradual_frames=(12, 38), fade_colours=cards, card_frames=held
        )
        plans.append(
            ("gradual", f"gradual{index}", edit, SIZES[(index + 1) % 4], (25, 30, 24)[index % 3], ENCODINGS[index % 4])
        )
    for index, middle in enumerate(_trap_shots()):
        rng = np.random.default_rng(seed + 300 + index)
        others = rng.choice([name for name in shotgen.COLOUR_PHOTOS if name != middle.source], 2, replace=False)
        before, after = (shotgen.Shot(str(source), 40, "drift") for source in others)
        edit = shotgen.Edit([before, middle, after], [shotgen.Join("cut"), shotgen.Join("cut")])
        plans.append(("traps", f"trap{index}-{middle.motion}", edit, SIZES[index % 4], 25, ENCODINGS[index % 4]))
    return plans


def _trap_shots() -> list[shotgen.Shot]:
    flashes = [
        shotgen.Shot(source, 60, "drift", flash_at=25, flash_frames=frames)
        for source, frames in (("coffee", 1), ("astronaut", 2), ("rocket", 3), ("camera", 2))
    ]
    pans = [shotgen.Shot(source, 50, "fast_pan") for source in ("chelsea", "hubble_deep_field", "coffee")]
    objects = [shotgen.Shot(source, 50, "object") for source in ("retina", "brick")]
    return flashes + pans + objects


def load(seed: int = 0) -> list[Video]:
    """The whole set, rendering only what the cache lacks (the first run takes a minute or two).
    Another ``seed`` draws other videos of the same kinds: a check that nothing was tuned to one draw."""
    videos = []
    for group, name, edit, size, fps, options in _plans(seed):
        key = hashlib.sha256(
            json.dumps([GENERATOR_VERSION, _described(edit), size, fps, options]).encode()
        ).hexdigest()[:12]
        path = CACHE / f"{name}-{seed}-{key}.mp4"
        truth_path = path.with_suffix(".json")
        if not truth_path.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            truth = shotgen.write(path, edit, size, fps, options=options)
            truth_path.write_text(json.dumps(asdict(truth)))
        videos.append(Video(group, name, path, _truth(json.loads(truth_path.read_text()))))
    return videos


# fields shotgen gained after this set was made, at the defaults this set keeps (they render as before)
_LATER_DEFAULTS = (
    ", grade=None, flash_strength=(0.85, 0.6)",
    ", curve='linear', light=False",
    ", grain=0.0, grain_seed=0",
)


def _described(edit: shotgen.Edit) -> str:
    """The edit as its cache key names it: its repr without the later fields at their defaults, so
    the videos cached before those fields existed (the same pixels) are still found."""
    text = repr(edit)
    for default in _LATER_DEFAULTS:
        text = text.replace(default, "")
    return text


def _truth(raw: dict[str, Any]) -> shotgen.Truth:
    return shotgen.Truth(
        frames=raw["frames"],
        fps=raw["fps"],
        size=(raw["size"][0], raw["size"][1]),
        transitions=[shotgen.Span(**span) for span in raw["transitions"]],
        traps=[shotgen.Span(**span) for span in raw["traps"]],
    )
