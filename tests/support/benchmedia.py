"""The media of the throughput benchmarks (``bench/pipeline.py``, ``bench/photos.py``), made from real
photos bundled with scikit-image, with known captions, cached under /tmp.

A video: ``SHOTS`` shots of ``SHOT_S`` seconds, 1280x720, 25 fps H.264 (x264 veryfast, its defaults),
each a slow pan, drift or zoom over a crop of one of sixteen scikit-image photos; a caption banner (a
dark band, white DejaVu Sans Bold letters) over a quarter of the shots, half of them for the whole
shot and half for ``CAPTION_S`` seconds in its middle; speech over most of it: the LibriVox
recordings of pocketsphinx-testdata where installed (real read speech), then espeak-ng sentences of
Debian's licence texts (synthetic). ``seed`` draws another video of the same make-up (another
order of photos, crops, camera moves and captions): a batch of distinct videos that no cache
shares.

Photos: ``count`` JPEGs at least 1600 pixels wide, each a random crop of a random scikit-image photo,
graded and scaled up, distinct pixels every one (so no cache helps); a caption on every third.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from support import librivox, mediagen, scenegen, shotgen, textgen

CACHE = Path("/tmp/mediasift-bench-media-v1")
SIZE = (1280, 720)
FPS = 25
SHOTS = 30
SHOT_S = 8.0
CAPTION_S = 3.0  # a caption that comes up inside a shot is on screen this long
PHOTOS = shotgen.COLOUR_PHOTOS + shotgen.GREY_PHOTOS
VOCABULARY = (
    "harbour market river bridge station morning evening winter summer garden museum festival "
    "council school village mountain coast storm harvest library concert factory airport island"
)
WORDS = VOCABULARY.split()


@dataclass(frozen=True)
class Caption:
    text: str
    start: float
    end: float


def caption_text(rng: random.Random) -> str:
    """Three to five plain words, capitalised: a title, a lower third, a caption."""
    return " ".join(rng.sample(WORDS, rng.randint(3, 5))).capitalize()


def banner(frame: np.ndarray, text: str, font_size: int) -> np.ndarray:
    """``text`` in white on a dark band across the lower third of ``frame``, as news and documentaries
    put a caption."""
    height, width = frame.shape[:2]
    top, bottom = round(height * 0.78), round(height * 0.78) + round(font_size * 1.8)
    out = frame.copy()
    out[top:bottom] = (out[top:bottom].astype(np.float32) * 0.3).astype(np.uint8)
    image = Image.fromarray(out)
    ImageDraw.Draw(image).text((round(width * 0.06), (top + bottom) / 2), text, fill=(255, 255, 255),
                               font=mediagen.font(font_size), anchor="lm")  # fmt: skip
    return np.asarray(image)


def _edit(seed: int) -> tuple[list[shotgen.Shot], list[Caption]]:
    rng = random.Random(seed)
    shots: list[shotgen.Shot] = []
    captions: list[Caption] = []
    frames = round(SHOT_S * FPS)
    for index in range(SHOTS):
        source = rng.choice([name for name in PHOTOS if not shots or name != shots[-1].source])
        motion = rng.choice(("pan", "pan", "drift", "zoom"))
        shots.append(shotgen.Shot(source, frames, motion, crop=(rng.uniform(0.1, 0.9), rng.uniform(0.2, 0.8)),
                                  seed=rng.randrange(1 << 30)))  # fmt: skip
        if index % 4 == 1:  # a quarter of the shots: the whole shot, or a few seconds in its middle
            start = index * SHOT_S
            if index % 8 == 1:
                captions.append(Caption(caption_text(rng), start, start + SHOT_S))
            else:
                middle = start + rng.uniform(2.0, SHOT_S - 2.0 - CAPTION_S)
                captions.append(Caption(caption_text(rng), round(middle, 2), round(middle + CAPTION_S, 2)))
    return shots, captions


def _speech(path: Path, seconds: float, seed: int) -> Path:
    """A mono 16 kHz track of ``seconds``: LibriVox recordings, then espeak-ng sentences, with pauses,
    speech over some 85 % of it."""
    rate = 16000
    track = np.zeros(round(seconds * rate), np.float32)
    pieces: list[np.ndarray] = []
    if librivox.LIBRIVOX.is_dir():
        pieces += [_resampled(*mediagen.read_audio(wav), rate) for wav, _ in librivox.recordings()]
    sentences = textgen.short_sentences(200, seed=seed, max_words=25)
    position = round(2.0 * rate)
    for index in range(10_000):
        if index >= len(pieces):
            wav = mediagen.make_speech_wav(path.with_suffix(".tmp.wav"), sentences[index % len(sentences)])
            pieces.append(_resampled(*mediagen.read_audio(wav), rate))
        piece = pieces[index][: len(track) - position]
        track[position : position + len(piece)] = piece
        position += len(piece) + round(0.6 * rate)
        if position >= len(track) - rate:
            break
    path.with_suffix(".tmp.wav").unlink(missing_ok=True)
    return mediagen.write_wav(path, track, rate)


def _resampled(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    if rate == to:
        return mono.astype(np.float32)
    count = round(len(mono) * to / rate)
    return np.interp(np.linspace(0, len(mono) - 1, count), np.arange(len(mono)), mono).astype(np.float32)


def video(seed: int = 0) -> tuple[Path, list[Caption]]:
    """The benchmark video of ``seed`` and its captions, rendered once (a few minutes) into ``CACHE``."""
    path = CACHE / f"pipeline-{seed}.mp4"
    truth = path.with_suffix(".json")
    if not path.exists() or not truth.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"rendering {path} ({SHOTS * SHOT_S:.0f} s, {SIZE[0]}x{SIZE[1]}; once, a few minutes)...", flush=True)
        shots, captions = _edit(seed)
        speech = _speech(CACHE / f"pipeline-{seed}-speech.wav", SHOTS * SHOT_S, seed)
        font_size = round(SIZE[1] / 18)

        def frames() -> Iterator[np.ndarray]:
            for index, shot in enumerate(shots):
                for number, frame in enumerate(shotgen.render_shot(shot, SIZE)):
                    seconds = index * SHOT_S + number / FPS
                    on = [c for c in captions if c.start <= seconds < c.end]
                    yield banner(frame, on[0].text, font_size) if on else frame

        shotgen.write_frames(path.with_suffix(".part.mp4"), frames(), SIZE, FPS, audio_wav=speech)
        path.with_suffix(".part.mp4").rename(path)
        truth.write_text(json.dumps([asdict(c) for c in captions]))
    return path, [Caption(**c) for c in json.loads(truth.read_text())]


def photos(count: int = 60, seed: int = 0, width: int = 1600) -> tuple[Path, dict[str, str]]:
    """``count`` distinct JPEG photos in a folder, and the caption of each captioned one (file name:
    text)."""
    folder = CACHE / f"photos-{count}-{seed}-{width}"
    truth = folder.with_suffix(".json")  # beside the folder: ingesting the folder takes photos only
    if not truth.exists():
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(seed)
        captions: dict[str, str] = {}
        for index in range(count):
            picture = mediagen.photo(rng.choice(PHOTOS))
            h, w = picture.shape[:2]
            cw, ch = round(w * rng.uniform(0.6, 0.95)), round(h * rng.uniform(0.6, 0.95))
            left, top = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
            crop = picture[top : top + ch, left : left + cw]
            height = round(width * rng.choice((2 / 3, 3 / 4, 9 / 16)))
            image = cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC)
            gains = (rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15))
            image = scenegen.grade(image, gains, rng.uniform(0.85, 1.15))
            name = f"photo{index:03d}.jpg"
            if index % 3 == 0:
                captions[name] = caption_text(rng)
                image = banner(image, captions[name], round(height / 20))
            Image.fromarray(image).save(folder / name, quality=90)
        truth.write_text(json.dumps(captions))
    return folder, json.loads(truth.read_text())
