"""The whole pipeline on a 4-minute 720p video, against the floor: decoding every frame of the same file.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pipeline.py [--seed N] [--batch 4] [VIDEO]

Without VIDEO it renders (once, cached in /tmp) the video of ``support.benchmedia``: 30 shots of 8 s
of real scikit-image photos under slow pans, drifts and zooms, 1280x720, 25 fps H.264, caption
banners on a quarter of the shots (half for the whole shot, half for 3 s inside it), speech over
most of it (LibriVox, then espeak-ng). Then, in one run:

* the floor: PyAV decoding every frame (default threading), nothing else, before and after the
  ingest (their mean is the floor: a busy machine slows both alike);
* ``mediasift ingest VIDEO --wait`` in a fresh process, data directory and database (model loading
  included, as a user sees it);

and prints x realtime for each, the ingest's ratio to the floor, its CPU seconds and their price
per minute of video at ``MEDIASIFT_COMPUTE_USD_PER_HOUR``, each operator's core time from lineage
(``operator_runs``) and when each ran (does transcription run beside the picture operators?), and,
for the generated video, the captions OCR found and how far their time ranges are from the truth.
``--batch N`` also ingests N distinct videos (seeds 0..N-1): pinned to one core with worker
concurrency 1, then on both cores with concurrency 1 and 2, and prints the throughput of each, what
the second core adds (concurrency 2 on two cores against one core), and concurrency 2 against 1 on
two cores (where concurrency 1 already runs its models on two threads).
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import time
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import av

from support import benchmedia, benchrun


def raw_decode(path: Path) -> float:
    """Seconds to decode every frame of the first video stream."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass
    return time.perf_counter() - start


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6


def captions_found(artifacts: list[Any], captions: list[benchmedia.Caption]) -> None:
    """Per caption: the OCR segment that reads it (80 % of its characters alike), and its time range."""
    texts = [(art.text or "", art.start, art.end) for art in artifacts if art.operator == "ocr" and art.kind == "ocr"]
    print(f"\n{'caption (truth)':42} {'truth s':>13} {'found s':>13} {'read as'}")
    found, errors = 0, []
    for caption in captions:
        want = caption.text.casefold()
        scored = [(SequenceMatcher(None, want, text.casefold()).ratio(), text, a, b) for text, a, b in texts]
        ratio, text, start, end = max(scored, default=(0.0, "", None, None), key=lambda item: item[0])
        truth = f"{caption.start:6.2f}-{caption.end:6.2f}"
        if ratio < 0.8:
            print(f"{caption.text:42} {truth:>13} {'missed':>13}")
            continue
        found += 1
        span = f"{start:6.2f}-{end:6.2f}" if start is not None and end is not None else "?"
        if start is not None and end is not None:
            errors += [abs(start - caption.start), abs(end - caption.end)]
        print(f"{caption.text:42} {truth:>13} {span:>13} {text}")
    worst = f", time range error mean {sum(errors) / len(errors):.2f} s, max {max(errors):.2f} s" if errors else ""
    print(f"captions found: {found}/{len(captions)}{worst}; OCR segments: {len(texts)}")


def batch(count: int, pg: benchrun.Server) -> None:
    """The batch on one core (concurrency 1, the process pinned to it: its models get one thread),
    then on both with concurrency 1 (models get two threads each) and 2 (two jobs, a thread each)."""
    videos = [benchmedia.video(seed)[0] for seed in range(count)]
    seconds = sum(duration(path) for path in videos)
    walls = {}
    for label, concurrency, cores in (("one core", 1, {0}), ("two cores", 1, None), ("two cores", 2, None)):
        run = benchrun.ingest(videos, pg, env={"MEDIASIFT_WORKER_CONCURRENCY": str(concurrency)}, cores=cores)
        walls[label, concurrency] = run.wall_s
        speed = seconds / run.wall_s
        print(f"batch of {count}, {label}, concurrency {concurrency}: {run.wall_s:7.1f} s, {speed:5.2f}x realtime, "
              f"CPU {run.cpu_s:.0f} s")  # fmt: skip
    one = walls["one core", 1]
    print(f"second core: {one / walls['two cores', 2]:.2f}x the throughput of one core (concurrency 2 on two "
          f"against 1 on one); concurrency 2 against 1 on two cores: "
          f"{walls['two cores', 1] / walls['two cores', 2]:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", type=Path, help="ingest this file instead of the generated one")
    parser.add_argument("--seed", type=int, default=0, help="which generated video")
    parser.add_argument(
        "--batch", type=int, default=0, help="also ingest this many distinct videos, concurrency 1 and 2"
    )
    args = parser.parse_args()
    from mediasift.config import Settings

    captions: list[benchmedia.Caption] | None = None
    path = args.video
    if path is None:
        path, captions = benchmedia.video(args.seed)
    length = duration(path)
    with benchrun.server() as pg:
        raw_decode(path)  # warm the page cache
        floor_before = raw_decode(path)
        run = benchrun.ingest([path], pg)
        floor = (floor_before + raw_decode(path)) / 2
        price = Settings().compute_usd_per_hour
        print(f"\n{path.name}: {length:.0f} s of video")
        print(f"{'raw decode of every frame (floor)':36} {floor:7.2f} s {length / floor:7.1f}x realtime")
        print(f"{'mediasift ingest --wait':36} {run.wall_s:7.2f} s {length / run.wall_s:7.1f}x realtime  "
              f"= {run.wall_s / floor:.1f}x the floor")  # fmt: skip
        per_minute = run.cpu_s / (length / 60)
        print(f"CPU {run.cpu_s:.1f} s: {per_minute:.1f} CPU s per minute of video, "
              f"${per_minute / 3600 * price:.5f} a minute at ${price}/CPU-hour")  # fmt: skip
        benchrun.print_operators(run.operator_seconds(), run.wall_s, max(1, round(length / 60)), "minute")
        benchrun.print_timeline(run.runs[run.assets[0]])
        if captions is not None:
            captions_found(run.artifacts[run.assets[0]], captions)
        if args.batch:
            print()
            batch(args.batch, pg)


if __name__ == "__main__":
    main()
