"""What micro-batching OCR recognition across concurrent jobs buys on this machine.

24 generated pictures (640x360, four lines of text each, half on gradients) are read (a) one picture
per call, sequentially, through RapidOCR's own per-picture call (the path before batching), and
(b) from 8 concurrent threads through the inference layer (``Inference.read_with_rapidocr``), which
detects in each thread and
recognises the lines of concurrent pictures together (wait 20 ms, batches up to 32 line images).
Both run in this process on one loaded reader, after a warm-up, alternating, ``--repeats`` times;
the figure is the median pictures/s of each and their ratio (b/a), with the process's CPU seconds per
picture beside it: on a machine that others share, more threads win a larger share of the CPUs, which
flatters (b)'s wall time but not its CPU time.

    .venv/bin/python bench/ocr_batching.py [--repeats 3]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.models import devices
from mediasift.models.ocr import TextReader

from support import mediagen

WORDS = ["HARVEST", "FESTIVAL", "RIVER", "MARKET", "NORTH", "STATION", "OPEN", "DAILY", "CITY", "MUSEUM", "TICKETS",
         "SUMMER", "CONCERT", "BRIDGE"]  # fmt: skip


def pictures(folder: Path, count: int = 24) -> list[npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(0)
    out = []
    for index in range(count):
        lines = [" ".join(rng.choice(WORDS, size=rng.integers(1, 4))) + f" {rng.integers(10, 2000)}" for _ in range(4)]
        background = mediagen.gradient((640, 360), green=10 * index) if index % 2 else None
        path = mediagen.make_text_image(folder / f"t{index}.png", "\n".join(lines), background=background, font_size=28)
        out.append(np.asarray(Image.open(path).convert("RGB")))
    return out


def timed(run: Callable[[], object], count: int) -> tuple[float, float]:
    """Pictures per second of wall time, and CPU seconds of this process per picture."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return count / (time.perf_counter() - wall), (time.process_time() - cpu) / count


def sequential(reader: TextReader, images: list[npt.NDArray[np.uint8]]) -> None:
    for image in images:
        reader.engine(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def concurrent(inference: Inference, images: list[npt.NDArray[np.uint8]], threads: int) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(inference.read_with_rapidocr, images))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    print(devices.describe())
    with tempfile.TemporaryDirectory() as folder:
        images = pictures(Path(folder))
    inference = Inference(Settings(model_threads=2, batch_max_size=32, batch_wait_ms=20.0, inference_cache=False))
    reader: TextReader = inference.handle(Role.OCR_READER).get()  # the runtime both ways share
    recogniser = inference.catalog.ref(Role.OCR_RECOGNISER)
    inference.read_with_rapidocr(images[0])  # warm-up
    reader.engine(cv2.cvtColor(images[0], cv2.COLOR_RGB2BGR))
    seq: list[tuple[float, float]] = []
    con: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        seq.append(timed(lambda: sequential(reader, images), len(images)))
        batches, items = stats.count(recogniser, "calls"), stats.count(recogniser, "items")
        con.append(timed(lambda: concurrent(inference, images, args.threads), len(images)))
        calls, lines = stats.count(recogniser, "calls") - batches, stats.count(recogniser, "items") - items
        print(f"  sequential {seq[-1][0]:.2f} pictures/s ({seq[-1][1]:.3f} CPU s each), {args.threads} threads "
              f"batched {con[-1][0]:.2f} pictures/s ({con[-1][1]:.3f} CPU s each; "
              f"{calls:.0f} recognition calls for {lines:.0f} lines)")  # fmt: skip
    a, b = statistics.median(s[0] for s in seq), statistics.median(c[0] for c in con)
    a_cpu, b_cpu = statistics.median(s[1] for s in seq), statistics.median(c[1] for c in con)
    print(f"(a) one picture per call, sequential: {a:.2f} pictures/s, {a_cpu:.3f} CPU s per picture")
    print(f"(b) {args.threads} threads through the batcher:    {b:.2f} pictures/s, {b_cpu:.3f} CPU s per picture")
    print(f"ratio b/a: {b / a:.2f} pictures/s, {b_cpu / a_cpu:.2f} CPU time")


if __name__ == "__main__":
    main()
