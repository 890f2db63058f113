"""Shot detection speed against the limits and the peers, on the same file, in one run.

    .venv/bin/python bench/video.py [VIDEO]

Without an argument it renders (once, cached in /tmp) a 120 s 1280x720 25 fps H.264 file of real
photos and patterns with 17 hard cuts and 3 fades (x264 veryfast, its defaults otherwise). Each
measurement is the median of 3 runs after a warm-up, the methods taking turns so that a busy
machine slows them alike:

* raw decode: PyAV decoding every frame (default threading), nothing else: the limit for any
  detector that looks at every frame;
* decode + downscale: the same plus one shared VideoReformatter to 160x90 grey;
* mediasift: ``detect_shots`` (both passes), and with the keyframe images read as the
  ``keyframes`` operator reads them;
* PySceneDetect 0.7.2: ContentDetector, AdaptiveDetector, HistogramDetector with their defaults.

On the generated file each detector's boundaries are also checked against the truth (a cut within
2 frames, a fade anywhere inside it): a speed is only worth comparing between detectors that find
the same boundaries. The accuracy comparison proper is ``eval/shots.py``.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import statistics
import sys
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


def bench_file() -> tuple[Path, shotgen.Truth | None]:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]), None
    path = Path("/tmp/mediasift-bench-video-v2.mp4")
    truth_path = path.with_suffix(".txt")
    if not truth_path.exists():
        print("rendering the 120 s 1280x720 test file (once, about a minute)...", flush=True)
        truth = shotgen.write(path, bench_edit(), (1280, 720), FPS)
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


def measure(path: Path) -> tuple[dict[str, float], dict[str, list[int] | None]]:
    """Median seconds per method (a warm-up each, then ``RUNS`` rounds in which every method runs
    once), and the boundaries each reported."""
    found = {name: method(path) for name, method in METHODS.items()}
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    for _ in range(RUNS):
        for name, method in METHODS.items():
            started = time.perf_counter()
            method(path)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}, found


def accuracy(found: list[int] | None, truth: shotgen.Truth | None) -> str:
    """Transitions found within 2 frames (a fade: inside it), and boundaries that match none."""
    if found is None or truth is None:
        return ""
    spans = [(s.start - 2, s.end + 2) for s in truth.transitions]
    hits = sum(1 for lo, hi in spans if any(lo <= b <= hi for b in found))
    false = sum(1 for b in found if not any(lo <= b <= hi for lo, hi in spans))
    return f"{hits}/{len(spans)} found, {false} false"


def main() -> None:
    path, truth = bench_file()
    shots = detect_shots(path)
    duration = shots.duration
    print(f"{path.name}: {shots.width}x{shots.height}, {shots.fps:.0f} fps, {duration:.0f} s")
    print(f"mediasift decodes {shots.decoded_frames} of its {shots.frames} frames")
    medians, found = measure(path)
    print(f"\n{'method':38} {'seconds':>8} {'x realtime':>11}  {'boundaries' if truth else ''}")
    for name, seconds in medians.items():
        print(f"{name:38} {seconds:8.2f} {duration / seconds:11.1f}  {accuracy(found[name], truth)}")
    ours = medians["mediasift detect_shots"]
    print(
        f"\nmediasift / PySceneDetect ContentDetector: {medians['PySceneDetect ContentDetector'] / ours:.2f}x faster"
        f"\nmediasift / raw decode of every frame:     {medians['raw decode (PyAV, every frame)'] / ours:.2f}x faster"
        f"\nwith keyframes / ContentDetector:          "
        f"{medians['PySceneDetect ContentDetector'] / medians['mediasift detect_shots + keyframes']:.2f}x faster"
    )


if __name__ == "__main__":
    main()
