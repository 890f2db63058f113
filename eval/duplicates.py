"""Video near-duplicates: precision and recall of duplicate pairs found by temporal fingerprints.

Each family is an original edit (4-6 shots of 2-4 s, cuts, slow camera moves; every other one opens
with the same 3 s intro, a second of black and two of a white title on black) and its copies, made
through PyAV as a user's tools make them (``tests/support/dupgen.py``): re-encoded as MPEG-4 Part 2
at 200 kbit/s, scaled up to 480x270, scaled down to 192x108 as VP9 at 120 kbit/s, trimmed (1.5-3.5
s off the head, 1-3 s off the tail), embedded between two shots of another video and two after; and two copies added
after the thresholds were set, as stress: re-timed to 30 fps (frames repeated) with a grade (gamma
0.8, contrast 1.2), and MPEG-4 at 60 kbit/s at 256x144.
Each family also has a re-edit: the same pictures in another order with other lengths, a different
video that must not match (nor the other families' videos that share its intro).

Every two videos of a set are a pair: a duplicate when both are of one family (the re-edit apart);
found when :func:`mediasift.search.duplicates.similar_pairs` (the code ``mediasift duplicates``
runs) returns it. Clusters are scored too: the pairs within one found cluster.

**Tuning set** (``--set tuning``, seeds 0 and 1): scikit-image's photos. The thresholds of
``src/mediasift/search/fingerprints.py`` were chosen on it. **Held-apart set** (seeds 20 and 21):
procedural scenes (``tests/support/scenegen.py``: landscapes, cities, rooms, slides...) and
scikit-image's stereo motorcycle, none of the tuning photos, looked at only after the tuning.

Run: ``PYTHONPATH=src .venv/bin/python eval/duplicates.py`` (both sets; videos and fingerprints are
cached under /tmp/mediasift-eval-dups).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.search.duplicates import clusters, similar_pairs
from mediasift.search.fingerprints import Fingerprint

from support import dupgen, scenegen, shotgen

CACHE = Path("/tmp/mediasift-eval-dups")
GENERATOR_VERSION = "2"
FAMILIES = 4
SETS = {
    "tuning": ((0, 1), dupgen.PHOTOS),
    "held-apart": ((20, 21), tuple(f"scene:{kind}" for kind in scenegen.KINDS) + scenegen.STEREO),
}
COPIES = ("reencoded", "scaled_up", "scaled_down_vp9", "trimmed", "embedded", "fps30_graded", "low_bitrate")
TITLE = "A MEDIASIFT FILM\nSummer 2026"


def family(folder: Path, seed: int, number: int, sources: tuple[str, ...]) -> dict[str, Path]:
    """An original, its copies and its re-edit, written to ``folder``: name -> path."""
    rng = np.random.default_rng([seed, number])
    made = dupgen.edit(int(rng.integers(1 << 30)), int(rng.integers(4, 7)), sources)
    opens = number % 2 == 0
    original = dupgen.write(folder / "original.mp4", _with_intro(made, opens))
    duration = sum(shot.frames for shot in made.shots) / dupgen.FPS + (3.0 if opens else 0.0)
    head, tail = float(rng.uniform(1.5, 3.5)), float(rng.uniform(1.0, 3.0))
    paths = {
        "original": original,
        "reencoded": dupgen.copy_of(original, folder / "reencoded.mp4", dupgen.Copy("mpeg4", 200_000)),
        "scaled_up": dupgen.copy_of(original, folder / "scaled_up.mp4", dupgen.Copy(size=(480, 270))),
        "scaled_down_vp9": dupgen.copy_of(
            original, folder / "scaled_down_vp9.mp4", dupgen.Copy("libvpx-vp9", 120_000, (192, 108))
        ),
        "fps30_graded": dupgen.copy_of(
            original, folder / "fps30_graded.mp4", dupgen.Copy(fps=30, gamma=0.8, contrast=1.2)
        ),
        "low_bitrate": dupgen.copy_of(original, folder / "low_bitrate.mp4", dupgen.Copy("mpeg4", 60_000, (256, 144))),
        "trimmed": dupgen.copy_of(original, folder / "trimmed.mp4", dupgen.Copy(start_s=head, end_s=duration - tail)),
        "embedded": dupgen.embedded(
            original,
            dupgen.edit(int(rng.integers(1 << 30)), 2, sources),
            dupgen.edit(int(rng.integers(1 << 30)), 2, sources),
            folder / "embedded.mp4",
        ),
    }
    order = rng.permutation(len(made.shots))
    lengths = rng.uniform(2.0, 4.0, size=len(made.shots))
    reedit = shotgen.Edit(
        [shotgen.Shot(made.shots[i].source, round(lengths[k] * dupgen.FPS), made.shots[i].motion,
                      made.shots[i].crop, seed=made.shots[i].seed) for k, i in enumerate(order)],
        made.joins,
    )  # fmt: skip
    paths["reedit"] = dupgen.write(folder / "reedit.mp4", _with_intro(reedit, opens))
    return paths


def _with_intro(made: shotgen.Edit, opens: bool) -> Any:
    if not opens:
        return dupgen.frames(made)
    return (frame for part in (dupgen.intro(TITLE), dupgen.frames(made)) for frame in part)


def fingerprints(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(family, video, fingerprint data) of every video of set ``name``, rendered once and cached."""
    seeds, sources = SETS[name]
    out = []
    for seed in seeds:
        for number in range(FAMILIES):
            folder = CACHE / f"v{GENERATOR_VERSION}" / name / f"{seed}-{number}"
            cached = folder / "fingerprints.json"
            if not cached.exists():
                folder.mkdir(parents=True, exist_ok=True)
                paths = family(folder, seed, number, sources)
                cached.write_text(json.dumps({video: dupgen.fingerprint(path) for video, path in paths.items()}))
            for video, data in json.loads(cached.read_text()).items():
                out.append((f"{seed}-{number}", video, data))
    return out


def score(name: str) -> None:
    started = time.perf_counter()
    videos = fingerprints(name)
    ready = time.perf_counter()
    ids = [uuid5(NAMESPACE_URL, f"{fam}/{video}") for fam, video, _ in videos]
    family_of = {uid: fam for uid, (fam, _, _) in zip(ids, videos, strict=True)}
    kind = {uid: video for uid, (_, video, _) in zip(ids, videos, strict=True)}
    prints = [Fingerprint.of(uid, data) for uid, (_, _, data) in zip(ids, videos, strict=True)]
    found = similar_pairs(prints)
    compared = time.perf_counter()
    every = {frozenset(p) for p in combinations(ids, 2)}
    truth = {p for p in every if _same_video(p, family_of, kind)}
    got = {frozenset((pair.a, pair.b)) for pair in found}
    in_clusters = {frozenset(p) for group in clusters(found) for p in combinations(group, 2)}
    families = len(set(family_of.values()))
    print(f"\n== {name}: {len(videos)} videos in {families} families, {len(truth)} duplicate pairs of {len(every)}; "
          f"fingerprints {ready - started:.1f} s, comparing {compared - ready:.2f} s")  # fmt: skip
    _line("pairs", got, truth)
    _line("clusters", in_clusters, truth)
    for copy in COPIES:
        wanted = {p for p in truth if {kind[u] for u in p} == {"original", copy}}
        print(f"  original ~ {copy:<16} found {len(wanted & got)}/{len(wanted)}")
    # both open with the intro, and both show it whole (a trim cuts into it; the embedded copy starts elsewhere)
    intro = {
        p for p in every - truth if all(_opens(family_of[u]) and kind[u] not in ("trimmed", "embedded") for u in p)
    }
    print(f"  different videos opening with the same intro: {len(intro & got)} of {len(intro)} matched")
    reedits = {p for p in every if "reedit" in {kind[u] for u in p} and len({family_of[u] for u in p}) == 1}
    print(f"  re-edits of the same pictures, with each video of their family: {len(reedits & got)} of {len(reedits)}")
    for pair in sorted(got - truth, key=lambda p: sorted(map(str, p))):
        print("  false:", sorted(f"{family_of[u]}:{kind[u]}" for u in pair))
    for pair in sorted(truth - got, key=lambda p: sorted(map(str, p))):
        print("  missed:", sorted(f"{family_of[u]}:{kind[u]}" for u in pair))


def _same_video(pair: frozenset[UUID], family_of: dict[UUID, str], kind: dict[UUID, str]) -> bool:
    return len({family_of[u] for u in pair}) == 1 and "reedit" not in {kind[u] for u in pair}


def _opens(family_id: str) -> bool:
    """Whether the family's videos open with the intro (every other family)."""
    return int(family_id.split("-")[1]) % 2 == 0


def _line(what: str, got: set[frozenset[UUID]], truth: set[frozenset[UUID]]) -> None:
    hit = len(got & truth)
    precision = hit / len(got) if got else 1.0
    recall = hit / len(truth) if truth else 1.0
    print(f"  {what:<9} precision {precision:.3f} ({hit}/{len(got)})  recall {recall:.3f} ({hit}/{len(truth)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "both"], default="both")
    chosen = parser.parse_args().set
    for name in SETS if chosen == "both" else (chosen,):
        score(name)


if __name__ == "__main__":
    main()
