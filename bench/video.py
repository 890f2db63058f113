"""Shot detection speed against the limits and the peers, with each method's accuracy beside its
speed, on the same files, in one run.

    nice -n 19 .venv/bin/python bench/video.py [--runs N] [VIDEO]

Without VIDEO it renders (once, cached in /tmp) a 120 s 1280x720 25 fps H.264 edit of real photos
and patterns, filmed with slow drifts and zooms or a still camera, with 17 hard cuts and 3 fades,
twice: with x264's defaults (veryfast: B-frames, which mediasift's fast decode skips) and with
``bframes=0`` (every frame a reference: nothing to skip, mediasift decodes what a raw decode
decodes). Both codec cases are measured and reported, each with its own ratios; a ratio only means
something in the case it was measured in. With VIDEO, that one file is measured (no truth, no
accuracy). Each measurement is the median of ``--runs`` (3) runs after a warm-up, the methods taking
turns so that a busy machine slows them alike (ratios hold under ``nice``; seconds do not):

* raw decode: PyAV decoding every frame (default threading), nothing else: the limit for any
  detector that looks at every frame;
* decode + downscale: the same plus one shared VideoReformatter to 160x90 grey;
* mediasift: ``detect_shots`` (both passes), and with the keyframe images read as the
  ``keyframes`` operator reads them;
* PySceneDetect 0.7.2: ContentDetector, AdaptiveDetector, HistogramDetector with their defaults.

On the generated files each detector's boundaries are scored against the truth beside its speed: a
cut is found by a boundary within 2 frames, a fade by one inside it widened by 2 frames, each
transition taking its own boundary; "false" counts the boundaries that match no transition (a second
boundary inside a fade that was found is neither); P, R and F1 follow. A speed is only worth
comparing between detectors at the same accuracy: the ratios are printed with both F1s. This content
(slow camera moves, unrelated pictures) is easy; the accuracy comparison proper, with a held-apart
set, is ``eval/shots.py``.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from mediasift.media.shots import detect_shots
from mediasift.media.video import VideoSource

from support import shotgen

RUNS = 3
FPS = 25
SECONDS = 120


def bench_edit() -> shotgen.Edit:
    """21 shots filling 120 s at 25 fps: 17 cuts and 3 one-second fades through 2 black frames."""
    rng = np.random.default_rng(2024)
    joins = [shotgen.Join("cut")] * 17 + [shotgen.Join("fade", frames=12, black=2)] * 3
    rng.shuffle(joins)
    black = sum(join.black for join in joins)
    lengths = rng.uniform(1, 2, 21)
    frames = np.floor(lengths / lengths.sum() * (SECONDS * FPS - black)).astype(int)
    frames[-1] += SECONDS * FPS - black - frames.sum()
    sources = list(shotgen.COLOUR_PHOTOS + shotgen.GREY_PHOTOS + shotgen.PATTERNS)
    shots: list[shotgen.Shot] = []
    for n in frames:
        source = str(rng.choice([name for name in sources if not shots or name != shots[-1].source]))
        motion = str(rng.choice(shotgen.MOTIONS[:3]))
        shots.append(shotgen.Shot(source, int(n), motion, crop=(float(rng.uniform(0.3, 0.95)), 0.5), seed=len(shots)))
    return shotgen.Edit(shots, joins)


CASES: dict[str, tuple[str, dict[str, str]]] = {  # name: (cache file, x264 options)
    "H.264 with B-frames (x264 defaults)": ("/tmp/mediasift-bench-video-v2.mp4", {}),
    "H.264 without B-frames (bframes=0)": ("/tmp/mediasift-bench-video-v2-bframes0.mp4", {"x264-params": "bframes=0"}),
}


def bench_file(path: Path, options: dict[str, str]) -> tuple[Path, shotgen.Truth]:
    truth_path = path.with_suffix(".txt")
    if not truth_path.exists():
        print(f"rendering {path.name}, 120 s 1280x720 (once, a minute or two)...", flush=True)
        truth = shotgen.write(path, bench_edit(), (1280, 720), FPS, options=options)
        truth_path.write_text(" ".join(f"{s.kind}:{s.start}:{s.end}" for s in truth.transitions))
    spans = [shotgen.Span(k, int(a), int(b)) for k, a, b in (x.split(":") for x in truth_path.read_text().split())]
    return path, shotgen.Truth(SECONDS * FPS, FPS, (1280, 720), spans)


def raw_decode(path: Path) -> list[int] | None:
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass
    return None


def decode_downscale(path: Path) -> list[int] | None:
    reformatter = VideoReformatter()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            reformatter.reformat(
                frame, width=160, height=90, format="gray", interpolation=Interpolation.AREA
            ).to_ndarray()
    return None


def mediasift(path: Path) -> list[int] | None:
    return [shot.start_frame for shot in detect_shots(path).shots[1:]]


def mediasift_keyframes(path: Path) -> list[int] | None:
    shots = detect_shots(path)
    times = [shot.keyframe_time for shot in shots.shots]
    with VideoSource(path) as video:
        video.frames_at(times, exact=False, sync_times=shots.sync_times, max_side=1280)
    return [shot.start_frame for shot in shots.shots[1:]]


def scenedetect_run(name: str) -> Callable[[Path], list[int] | None]:
    def run(path: Path) -> list[int] | None:
        import scenedetect

        return [start.frame_num for start, _ in scenedetect.detect(str(path), getattr(scenedetect, name)())[1:]]

    return run


METHODS: dict[str, Callable[[Path], list[int] | None]] = {
    "raw decode (PyAV, every frame)": raw_decode,
    "decode + downscale to 160x90 grey": decode_downscale,
    "mediasift detect_shots": mediasift,
    "mediasift detect_shots + keyframes": mediasift_keyframes,
    "PySceneDetect ContentDetector": scenedetect_run("ContentDetector"),
    "PySceneDetect AdaptiveDetector": scenedetect_run("AdaptiveDetector"),
    "PySceneDetect HistogramDetector": scenedetect_run("HistogramDetector"),
}


def measure(path: Path, runs: int = RUNS) -> tuple[dict[str, float], dict[str, list[int] | None]]:
    """Median seconds per method (a warm-up each, then ``runs`` rounds in which every method runs
    once), and the boundaries each reported."""
    found = {name: method(path) for name, method in METHODS.items()}
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    for _ in range(runs):
        for name, method in METHODS.items():
            started = time.perf_counter()
            method(path)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}, found


def accuracy(found: list[int], truth: shotgen.Truth) -> tuple[int, int, float]:
    """(transitions found, false boundaries, F1): a cut within 2 frames, a fade inside it widened by 2
    frames, each transition taking the nearest boundary no other took."""
    used: set[int] = set()
    found_spans = []
    for span in truth.transitions:
        lo, hi = span.start - 2, span.end + 2
        candidates = [b for b in found if lo <= b <= hi and b not in used]
        if candidates:
            used.add(min(candidates, key=lambda b: abs(b - (span.start + span.end) / 2)))
            found_spans.append((lo, hi))
    false = sum(1 for b in found if b not in used and not any(lo <= b <= hi for lo, hi in found_spans))
    hits = len(used)
    precision = hits / (hits + false) if hits + false else 1.0
    recall = hits / len(truth.transitions) if truth.transitions else 1.0
    return hits, false, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


OURS = "mediasift detect_shots"
BASELINES = (
    "raw decode (PyAV, every frame)",
    "decode + downscale to 160x90 grey",
    "PySceneDetect ContentDetector",
    "PySceneDetect AdaptiveDetector",
    "PySceneDetect HistogramDetector",
)


def run_case(title: str, path: Path, truth: shotgen.Truth | None, runs: int) -> dict[str, float]:
    """Measure one file, print its table and ratios; returns mediasift's speed-up over each baseline."""
    shots = detect_shots(path)
    duration = shots.duration
    print(f"\n== {title}: {path.name}, {shots.width}x{shots.height}, {shots.fps:.0f} fps, {duration:.0f} s")
    print(f"mediasift decodes {shots.decoded_frames} of its {shots.frames} frames")
    medians, found = measure(path, runs)
    f1s: dict[str, float] = {}
    print(f"\n{'method':38} {'seconds':>8} {'x realtime':>11}  {'found':>6} {'false':>5} {'F1':>5}")
    for name, seconds in medians.items():
        boundaries = found[name]
        columns = ""
        if boundaries is not None and truth is not None:
            hits, false, f1s[name] = accuracy(boundaries, truth)
            columns = f"{hits:>3}/{len(truth.transitions):<2} {false:5d} {f1s[name]:5.3f}"
        print(f"{name:38} {seconds:8.2f} {duration / seconds:11.1f}  {columns}")
    ours = medians[OURS]
    ratios = {name: medians[name] / ours for name in BASELINES}
    ours_f1 = f"mediasift F1 {f1s[OURS]:.3f}" if OURS in f1s else ""
    print()
    for name, ratio in ratios.items():
        theirs = f", {ours_f1} vs {f1s[name]:.3f}" if name in f1s and ours_f1 else ""
        print(f"mediasift / {name:34} {ratio:5.2f}x faster{theirs}")
    keyframes = medians["PySceneDetect ContentDetector"] / medians["mediasift detect_shots + keyframes"]
    print(f"mediasift with keyframes / {'ContentDetector':19} {keyframes:5.2f}x faster")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", type=Path, help="measure this file instead (no accuracy)")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed rounds per method (the median is kept)")
    args = parser.parse_args()
    if args.video is not None:
        run_case("given file", args.video, None, args.runs)
        return
    summary = {}
    for title, (name, options) in CASES.items():
        path, truth = bench_file(Path(name), options)
        summary[title] = run_case(title, path, truth, args.runs)
    print("\nmediasift's speed-up over each baseline, per codec case (measured in this run):")
    print(f"{'baseline':38} " + " ".join(f"{title.split(' (')[0]:>28}" for title in summary))
    for baseline in BASELINES:
        print(f"{baseline:38} " + " ".join(f"{ratios[baseline]:27.2f}x" for ratios in summary.values()))


if __name__ == "__main__":
    main()
