"""Shot boundary detection: mediasift against PySceneDetect, on the same videos, in one run, on the
set its thresholds were tuned on and on a set held apart from that tuning, side by side.

    .venv/bin/python eval/shots.py [--seed N]

Two sets of videos with known boundaries: hard cuts; fades (through black, white or a flat colour
card) and dissolves; and traps that are no boundary (camera flashes, whip pans, a still camera with
a moving object). ``eval/shotset.py`` is the tuning set: the thresholds in
``mediasift.media.shots.config`` were tuned on it. ``eval/shotset_heldout.py`` is the held-apart
set, made by a second generator (other sources, camera shake, grain, fades and dissolves that are no
linear mix, harder compression, traps drawn from the seed); no threshold was changed after seeing
it. Both are rendered once into /tmp (a few minutes the first time). ``--seed`` draws other videos
of both sets. Every detector runs on every video: mediasift's ``detect_shots`` and PySceneDetect
0.7.2's ContentDetector, AdaptiveDetector and HistogramDetector with their default settings
(``scenedetect.detect(path, detector)``).

Scoring. A detector reports the first frame of each new shot. A cut at frame k is found by a
boundary within 2 frames of k; a gradual transition by a boundary inside its span widened by 2
frames. Each transition takes the nearest unused boundary. A boundary left over inside a
transition that was found is a duplicate, neither a hit nor a false positive: that is how a fade
that PySceneDetect reports as two boundaries (where it leaves the old shot and where it reaches the
new one) is scored; the duplicates of the gradual group are counted apart ("dup"). Every other
boundary left over is a false positive; those inside a trap are also counted per trap. Precision,
recall and F1 are given per group of videos, so the cut figures come from the videos with only
cuts and the gradual ones from those with only fades and dissolves.

The output: one detailed table per set, then the summary with each figure as "tuning / held-apart".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

import shotset  # noqa: E402
import shotset_heldout  # noqa: E402

TOLERANCE = 2


@dataclass
class Score:
    found: int = 0
    truth: int = 0
    false: int = 0
    duplicate: int = 0  # boundaries left over inside a gradual transition that was found
    trap_false: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # transition kind: [found, truth]

    def add(self, other: Score) -> None:
        self.found += other.found
        self.truth += other.truth
        self.false += other.false
        self.duplicate += other.duplicate
        for kind, count in other.trap_false.items():
            self.trap_false[kind] = self.trap_false.get(kind, 0) + count
        for kind, (found, truth) in other.by_kind.items():
            mine = self.by_kind.setdefault(kind, [0, 0])
            mine[0] += found
            mine[1] += truth

    def kind_recall(self, kind: str) -> float:
        found, truth = self.by_kind.get(kind, [0, 0])
        return found / truth if truth else 1.0

    @property
    def precision(self) -> float:
        return self.found / (self.found + self.false) if self.found + self.false else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(video: shotset.Video, boundaries: list[int]) -> Score:
    result = Score(truth=len(video.truth.transitions))
    used: set[int] = set()
    found_spans = []
    for span in video.truth.transitions:
        lo, hi = span.start - TOLERANCE, span.end + TOLERANCE
        middle = (span.start + span.end) / 2
        candidates = [b for b in boundaries if lo <= b <= hi and b not in used]
        kinds = [span.kind] + (["fade_card"] if span.kind == "fade" and span.card != "#000000" else [])
        tallies = [result.by_kind.setdefault(kind, [0, 0]) for kind in kinds]
        for tally in tallies:
            tally[1] += 1
        if candidates:
            used.add(min(candidates, key=lambda b: abs(b - middle)))
            result.found += 1
            for tally in tallies:
                tally[0] += 1
            if span.kind != "cut":
                found_spans.append((lo, hi))
    for boundary in boundaries:
        if boundary in used:
            continue
        if any(lo <= boundary <= hi for lo, hi in found_spans):
            result.duplicate += 1
            continue
        result.false += 1
        for trap in video.truth.traps:
            if trap.start - TOLERANCE <= boundary <= trap.end + TOLERANCE:
                result.trap_false[trap.kind] = result.trap_false.get(trap.kind, 0) + 1
    return result


def mediasift_boundaries(path: Path) -> list[int]:
    from mediasift.media.shots import detect_shots

    return [shot.start_frame for shot in detect_shots(path).shots[1:]]


def scenedetect_boundaries(name: str) -> Callable[[Path], list[int]]:
    def run(path: Path) -> list[int]:
        import scenedetect

        detector = getattr(scenedetect, name)()
        return [start.frame_num for start, _ in scenedetect.detect(str(path), detector)[1:]]

    return run


DETECTORS: dict[str, Callable[[Path], list[int]]] = {
    "mediasift": mediasift_boundaries,
    "ContentDetector": scenedetect_boundaries("ContentDetector"),
    "AdaptiveDetector": scenedetect_boundaries("AdaptiveDetector"),
    "HistogramDetector": scenedetect_boundaries("HistogramDetector"),
}


def evaluate(videos: list[shotset.Video]) -> Results:
    """Per detector: the summed score of each group, and the seconds it spent on all videos."""
    results = {}
    for name, detect in DETECTORS.items():
        groups: dict[str, Score] = {}
        spent = 0.0
        for video in videos:
            started = time.perf_counter()
            boundaries = detect(video.path)
            spent += time.perf_counter() - started
            groups.setdefault(video.group, Score()).add(score(video, boundaries))
        results[name] = (groups, spent)
    return results


Results = dict[str, tuple[dict[str, Score], float]]


def report(videos: list[shotset.Video], results: Results) -> None:
    def count(group: str, kinds: set[str]) -> int:
        return sum(1 for v in videos if v.group == group for s in v.truth.transitions if s.kind in kinds)

    traps = sorted({trap.kind for video in videos for trap in video.truth.traps})
    trap_counts = {kind: sum(1 for v in videos for t in v.truth.traps if t.kind == kind) for kind in traps}
    seconds = sum(video.truth.duration for video in videos)
    cards = sum(1 for v in videos if v.group == "gradual" for s in v.truth.transitions if s.card not in ("", "#000000"))
    print(
        f"{len(videos)} videos, {seconds:.0f} s: {count('cuts', {'cut'})} hard cuts; "
        f"{count('gradual', {'fade'})} fades ({cards} through white or a colour card) and "
        f"{count('gradual', {'dissolve'})} dissolves; "
        + ", ".join(f"{n} {kind}" for kind, n in trap_counts.items())
        + f" traps (between {count('traps', {'cut'})} cuts)\n"
    )
    header = (
        f"{'detector':18} | {'cuts P':>6} {'R':>5} {'F1':>5} | {'gradual P':>9} {'R':>5} {'F1':>5} "
        f"{'fade R':>6} {'card R':>6} {'dissolve R':>10} {'dup':>4} | "
        + " ".join(f"{kind + ' FP':>9}" for kind in traps)
        + f" {'trap-cut F1':>11} | {'x realtime':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, (groups, spent) in results.items():
        cuts, gradual, trap = (groups.get(g, Score()) for g in ("cuts", "gradual", "traps"))
        print(
            f"{name:18} | {cuts.precision:6.3f} {cuts.recall:5.3f} {cuts.f1:5.3f} | "
            f"{gradual.precision:9.3f} {gradual.recall:5.3f} {gradual.f1:5.3f} "
            f"{gradual.kind_recall('fade'):6.3f} {gradual.kind_recall('fade_card'):6.3f} "
            f"{gradual.kind_recall('dissolve'):10.3f} {gradual.duplicate:4d} | "
            + " ".join(f"{trap.trap_false.get(kind, 0):9d}" for kind in traps)
            + f" {trap.f1:11.3f} | {seconds / spent:10.0f}"
        )
    print(
        "\ncard R: recall of the fades through a card that is not black (white, grey, blue). dup: "
        "duplicates, boundaries left over inside a gradual transition that was found (not in P or R). "
        "FP: boundaries reported inside a trap (no boundary there). trap-cut F1: the cuts around the "
        "traps. x realtime: video seconds per second of detection, over all videos (mixed sizes)."
    )


def side_by_side(sets: list[tuple[list[shotset.Video], Results]]) -> None:
    """Each detector's headline figures on the tuning set and on the held-apart set, as "tuning / held"."""

    columns = ["cuts P", "cuts R", "cuts F1", "gradual P", "gradual R", "gradual F1", "trap FP", "x realtime"]
    width = 13
    header = f"{'detector':18} | " + " ".join(f"{c:>{width}}" for c in columns)
    print("summary, each figure as tuning / held-apart:\n" + header + "\n" + "-" * len(header))
    for name in sets[0][1]:
        cells: list[list[str]] = [[] for _ in columns]
        for videos, results in sets:
            groups, spent = results[name]
            cuts, gradual = groups.get("cuts", Score()), groups.get("gradual", Score())
            trap_fp = sum(sum(score.trap_false.values()) for score in groups.values())
            seconds = sum(video.truth.duration for video in videos)
            figures = [cuts.precision, cuts.recall, cuts.f1, gradual.precision, gradual.recall, gradual.f1]
            for cell, value in zip(cells, figures, strict=False):
                cell.append(f"{value:.2f}")
            cells[6].append(str(trap_fp))
            cells[7].append(f"{seconds / spent:.1f}")
        print(f"{name:18} | " + " ".join(f"{' / '.join(cell):>{width}}" for cell in cells))
    traps = [sum(len(v.truth.traps) for v in videos) for videos, _ in sets]
    print(
        f"\ntrap FP: boundaries inside any trap (of {traps[0]} / {traps[1]} traps). x realtime: the sets' "
        "sizes differ (up to 1280x720 / 1024x576), so compare it between detectors, not between sets."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="draw other videos of the same kinds (0: the usual sets)")
    seed = parser.parse_args().seed
    sets = []
    for title, load in (
        ("tuning set (eval/shotset.py)", shotset.load),
        ("held-apart set (eval/shotset_heldout.py)", shotset_heldout.load),
    ):
        videos = load(seed)
        results = evaluate(videos)
        print(f"== {title}, seed {seed}")
        report(videos, results)
        print()
        sets.append((videos, results))
    side_by_side(sets)


if __name__ == "__main__":
    main()
