"""The OCR reader's text-presence gate: what it turns away, what it lets through, and what that costs.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/ocr_gate.py [--held-apart]

The gate (:mod:`mediasift.models.ocr`: the detector on a copy shrunk to ``GATE_SIDE``, a region of a
line's shape, ``GATE_MIN_ASPECT`` and ``GATE_MAX_HEIGHT``) decides whether a picture larger than
``GATE_ABOVE`` is detected at full size. Each picture is read twice, with the gate and without it
(the reader as it was), and scored:

- pictures with text: the lines the ungated reader reads (at ``ocr_min_confidence`` or more, with
  at least ``WORD`` letters or digits: single characters and marks it reads out of scenery, a "0"
  300 px high, are no text anyone drew), and the share of them the gated reader still reads (same
  normalised text): the recall the gate keeps; and how many of those single characters and marks it
  no longer reports;
- pictures without drawn text: the share the gate turns away (no full-size detection), and what the
  ungated reader reported on them anyway (textures read as letters);
- the median time per picture, gated and ungated.

**Tuning set**: ``bench/photos.py``'s photos (``support.benchmedia.photos``, seed 0: crops of
scikit-image photos scaled to 1600 px, a caption banner on every third). The shape thresholds were read
off the regions the shrunk detector found on these (docs in :mod:`mediasift.models.ocr`); this column
replicates. **Held-apart set**, never looked at while choosing them: procedural scenes of
``support.scenegen`` (landscapes, cities, rooms, foliage, still lifes, a figure; no photo of the tuning
set) at 1600x1000 and 1920x1080, half with text drawn as ``eval/vision.py`` draws it (eight DejaVu
faces, 20-72 px, outlined or not, black or white by the brightness under it, no band), and its slides
(a title bar and bullet lines: text as a document shows it).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.config import Settings
from mediasift.models.ocr import TextReader
from mediasift.operators.ocr import normalise, similarity

from support import benchmedia, scenegen

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansCondensed.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf")  # fmt: skip
CORPUS = (
    "weather warning heavy rain expected tonight live from London breaking news election results traffic "
    "delays on the highway match report final score interview with the director open daily price drop "
    "winter sale limited offer river bridge closed for repairs until March"
)
WORDS = CORPUS.split()
WORD = 3  # letters or digits a reading needs to count as a line of text
SCENES = ("landscape", "city", "room", "foliage", "still_life", "figure")


@dataclass
class Picture:
    pixels: np.ndarray
    text: bool  # text was drawn on it


def tuning_set() -> list[Picture]:
    folder, captions = benchmedia.photos()
    return [Picture(np.asarray(Image.open(path).convert("RGB")), path.name in captions)
            for path in sorted(folder.glob("*.jpg"))]  # fmt: skip


def held_apart_set(count: int = 48, seed: int = 31) -> list[Picture]:
    rng = random.Random(seed)
    pictures = []
    for index in range(count):
        size = (1600, 1000) if index % 2 else (1920, 1080)
        if index % 8 == 7:
            pictures.append(Picture(scenegen.scene("scene:slide", size, seed + index), True))
            continue
        scene = scenegen.scene(f"scene:{SCENES[index % len(SCENES)]}", size, seed + index)
        if index % 2:
            pictures.append(Picture(scene, False))
            continue
        image = Image.fromarray(scene)
        font = ImageFont.truetype(str(FONT_DIR / rng.choice(FONTS)), rng.choice((20, 24, 32, 40, 48, 60, 72)))
        start = rng.randrange(len(WORDS))
        line = " ".join(WORDS[(start + i) % len(WORDS)] for i in range(rng.randint(2, 5)))
        left, top = rng.randrange(20, size[0] // 3), rng.randrange(20, size[1] - 120)
        x0, y0, x1, y1 = (round(v) for v in ImageDraw.Draw(image).textbbox((left, top), line, font=font))
        bright = float(scene[max(0, y0) : y1, max(0, x0) : x1].mean()) >= 128
        fill, stroke = ((0, 0, 0), (255, 255, 255)) if bright else ((255, 255, 255), (0, 0, 0))
        ImageDraw.Draw(image).text((left, top), line, font=font, fill=fill, stroke_fill=stroke,
                                   stroke_width=max(1, font.size // 12) if rng.random() < 0.5 else 0)  # fmt: skip
        pictures.append(Picture(np.asarray(image), True))
    return pictures


def score(name: str, pictures: list[Picture], gated: TextReader, ungated: TextReader, floor: float) -> None:
    wanted = kept = turned_away = free = 0
    noise = marks = marks_dropped = 0
    seconds: dict[str, list[float]] = {"gated": [], "ungated": []}
    for picture in pictures:
        started = time.perf_counter()
        everything = [line for line in ungated.read(picture.pixels) if line.confidence >= floor]
        plain = [line for line in everything if sum(char.isalnum() for char in line.text) >= WORD]
        seconds["ungated"].append(time.perf_counter() - started)
        started = time.perf_counter()
        found = gated.detect(picture.pixels)
        lines = [] if found.detected is None else gated.assemble(found, gated.recognise_line_images(found.line_images))
        seconds["gated"].append(time.perf_counter() - started)
        read = [normalise(line.text) for line in lines if line.confidence >= floor]
        if picture.text:
            wanted += len(plain)
            lost = [line for line in plain if not any(similarity(normalise(line.text), other) >= 0.8 for other in read)]
            kept += len(plain) - len(lost)
            scraps = [normalise(line.text) for line in everything if line not in plain]
            marks += len(scraps)
            marks_dropped += sum(scrap not in read for scrap in scraps)
            for line in lost:
                print(f"  lost: {line.text!r}, {line.box[3]} px high in a {picture.pixels.shape[1]}-pixel picture")
        else:
            free += 1
            turned_away += found.gated
            noise += bool(plain)
    print(f"{name}: {len(pictures)} pictures, {len(pictures) - free} with text, {free} without")
    print(f"  lines read without the gate: {wanted}; still read with it: {kept} ({kept / max(1, wanted):.1%}); "
          f"single characters and marks read out of scenery: {marks}, {marks_dropped} of them no longer")  # fmt: skip
    print(f"  pictures without text turned away by the gate: {turned_away}/{free} ({turned_away / max(1, free):.0%});"
          f" the ungated reader reported text on {noise} of them")  # fmt: skip
    print(f"  median s per picture: gated {statistics.median(seconds['gated']):.3f}, "
          f"ungated {statistics.median(seconds['ungated']):.3f}; mean gated {statistics.mean(seconds['gated']):.3f}, "
          f"ungated {statistics.mean(seconds['ungated']):.3f}")  # fmt: skip


def main() -> int:
    floor = Settings().ocr_min_confidence
    gated, ungated = TextReader().load(), TextReader(gate_above=10**9).load()
    if "--held-apart" not in sys.argv:
        score("tuning set (bench/photos.py photos)", tuning_set(), gated, ungated, floor)
    score("held-apart set (procedural scenes, eval/vision-style text, slides)", held_apart_set(), gated, ungated, floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
