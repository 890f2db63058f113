"""``mediasift duplicates`` at library scale: which videos it compares, and what that costs, against the
rule it used before (compare any two videos that share one 16-bit quarter of a sample's hash).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/duplicates.py [--videos 1000] [--shots 20] [--seed 0]

The library is made of fingerprints as the ``fingerprint`` operator stores them, from real pictures:
a pool of shots, each the perceptual hashes of 6 frames (0.5 s apart) of a slow pan over a random
crop of a scikit-image photo (10,000 shots, made once and cached in /tmp), and ``--videos`` edits of
``--shots`` shots drawn from the pool (by default a shot is in two edits, as stock footage is). Then
copies of random edits are added: 20 re-encoded (each sample's hash with 0-6 bits flipped), 10
trimmed (the first and last shot cut), 10 inside another edit (between its shots).

For the rule now (:func:`mediasift.search.duplicates.candidate_pairs`) and the rule before: the
pairs it picks, the seconds to pick them, the seconds to align them all (the rule before: estimated
from 3,000 of its pairs, the whole would take minutes), the planted copies among its pairs and
found by the alignment, and the ratio of the two rules' total seconds.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import json
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any
from uuid import uuid4

import imagehash
import numpy as np
from PIL import Image
from skimage import data

from mediasift.search.duplicates import candidate_pairs
from mediasift.search.fingerprints import Fingerprint, align

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "clock", "coins", "moon", "horse", "page",
          "hubble_deep_field", "immunohistochemistry", "text", "brick", "grass", "gravel", "retina", "cat",
          "colorwheel", "logo", "microaneurysms")  # fmt: skip
POOL = 10_000
FRAMES = 6  # a shot's samples, 0.5 s apart
CACHE = Path(f"/tmp/mediasift-bench-dups-shots-{POOL}.json")
Data = dict[str, Any]


def shot_pool(rng: np.random.Generator) -> list[list[str]]:
    """``POOL`` shots, each the hashes (hex) of ``FRAMES`` frames of a pan over a crop of a photo."""
    if CACHE.exists():
        return list(json.loads(CACHE.read_text()))
    photos = []
    for name in PHOTOS:
        picture = np.asarray(getattr(data, name)())
        picture = np.stack([picture] * 3, axis=-1) if picture.ndim == 2 else picture[..., :3]
        photos.append(np.ascontiguousarray(picture, dtype=np.uint8))
    pool = []
    for _ in range(POOL):
        photo = photos[rng.integers(len(photos))]
        height, width = photo.shape[:2]
        crop_w = int(width * rng.uniform(0.3, 0.7))
        crop_h = min(int(crop_w * 9 / 16), height - 1)
        x0, y0, step = rng.integers(0, width - crop_w), rng.integers(0, height - crop_h), int(rng.integers(-12, 13))
        hashes = []
        for frame in range(FRAMES):
            x = int(np.clip(x0 + step * frame, 0, width - crop_w))
            picture = Image.fromarray(photo[y0 : y0 + crop_h, x : x + crop_w]).resize((128, 72))
            hashes.append(str(imagehash.phash(picture)))
        pool.append(hashes)
    CACHE.write_text(json.dumps(pool))
    return pool


def edit(shots: list[list[str]]) -> Data:
    """A fingerprint of these shots one after another (every sample fully informative)."""
    spans, samples, start = [], [], 0.0
    for index, hashes in enumerate(shots):
        spans.append([start, start + 0.5 * len(hashes)])
        samples += [[round(start + 0.25 + 0.5 * i, 3), index, digest, 1.0] for i, digest in enumerate(hashes)]
        start += 0.5 * len(hashes)
    return {"version": 1, "duration": start, "stream_sha256": uuid4().hex, "step_s": 0.5, "shots": spans,
            "samples": samples}  # fmt: skip


def flipped(shots: list[list[str]], rng: np.random.Generator, most: int = 6) -> list[list[str]]:
    """The shots as a re-encode hashes them: each hash with up to ``most`` bits flipped."""
    out = []
    for hashes in shots:
        again = []
        for digest in hashes:
            value = int(digest, 16)
            for bit in rng.choice(64, size=int(rng.integers(0, most + 1)), replace=False):
                value ^= 1 << int(bit)
            again.append(f"{value:016x}")
        out.append(again)
    return out


def library(videos: int, shots: int, seed: int) -> tuple[list[Data], list[tuple[int, int]]]:
    """The edits and the planted copies, as (original, copy) indexes."""
    rng = np.random.default_rng(seed)
    pool = shot_pool(np.random.default_rng(1234))
    edits = [[pool[i] for i in rng.choice(len(pool), shots, replace=False)] for _ in range(videos)]
    made = [edit(shots_) for shots_ in edits]
    planted = []

    def plant(original: int, shots_: list[list[str]]) -> None:
        made.append(edit(shots_))
        planted.append((original, len(made) - 1))

    for original in rng.choice(videos, 40, replace=False).tolist():
        kind = len(planted)
        if kind < 20:
            plant(original, flipped(edits[original], rng))
        elif kind < 30:
            plant(original, edits[original][1:-1])
        else:
            host = edits[int(rng.integers(videos))]
            plant(original, host[:3] + edits[original] + host[3:5])
    return made, planted


def quarter_rule(prints: list[Fingerprint]) -> set[tuple[int, int]]:
    """The rule before: any two videos that share a 16-bit quarter of an informative sample's hash (a
    quarter more than 200 videos share skipped)."""
    buckets: dict[tuple[int, int], set[int]] = defaultdict(set)
    for index, print_ in enumerate(prints):
        hashes = print_.hashes[print_.informative]
        for band in range(4):
            for value in np.unique((hashes >> np.uint64(16 * band)) & np.uint64(0xFFFF)):
                buckets[(band, int(value))].add(index)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if 1 < len(members) <= 200:
            pairs.update(combinations(sorted(members), 2))
    return pairs


def measure(name: str, rule: Any, prints: list[Fingerprint], planted: list[tuple[int, int]]) -> float:
    started = time.perf_counter()
    pairs = rule(prints)
    pick_s = time.perf_counter() - started
    ordered = sorted(pairs)
    picks = np.linspace(0, len(ordered) - 1, min(len(ordered), 3000), dtype=int)
    started = time.perf_counter()
    for index in picks.tolist():
        align(prints[ordered[index][0]], prints[ordered[index][1]])
    align_s = (time.perf_counter() - started) * len(ordered) / max(len(picks), 1)
    estimated = "" if len(picks) == len(ordered) else " (estimated)"
    among = [pair for pair in planted if pair in pairs]
    found = sum(1 for i, j in among if (seen := align(prints[i], prints[j])) is not None and seen.duplicate)
    total = len(prints) * (len(prints) - 1) // 2
    print(f"{name:12} {len(pairs):9d} pairs ({len(pairs) / total:6.2%} of all)  picked in {pick_s:6.2f} s  "
          f"aligned in {align_s:8.1f} s{estimated}  planted copies among them {len(among)}/{len(planted)}, "
          f"aligned as copies {found}/{len(planted)}")  # fmt: skip
    return pick_s + align_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    made, planted = library(args.videos, args.shots, args.seed)
    started = time.perf_counter()
    prints = [Fingerprint.of(uuid4(), fingerprint) for fingerprint in made]
    samples = sum(len(print_.hashes) for print_ in prints)
    print(f"{len(prints)} videos, {samples} samples; fingerprints read in {time.perf_counter() - started:.2f} s")
    before = measure("rule before", quarter_rule, prints, planted)
    now = measure("rule now", candidate_pairs, prints, planted)
    print(f"seconds, now against before: {now / before:.3f}")


if __name__ == "__main__":
    main()
