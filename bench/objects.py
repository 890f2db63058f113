"""The object detector's CPU time a picture, against OpenCV DNN running the same TensorFlow graph.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/objects.py [--count 60] [--threads 1] [--repeats 3]

On ``--count`` of ``bench/photos.py``'s photos (1600 px wide, made once and cached in /tmp) and eight
scikit-image photos, one picture at a time on ``--threads`` threads: mediasift's detector (the graph
rebuilt as ONNX, on ONNX Runtime; decoding and suppression in numpy) and OpenCV DNN on the package's
own ``.pb`` + ``.pbtxt`` (what the detector ran on before), each timed over every picture, best of
``--repeats`` passes, in CPU seconds of this process (both runtimes' threads included) and wall seconds. Both include
making the 300x300 blob and reading the detections; decoding the JPEG is outside. Prints the load
time of each, ms of CPU a picture, and how far their detections agree at floors 0.5, 0.3 and 0.1:
same label and box in pixels, largest confidence difference.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import math
import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data

from mediasift.models.object_detector import Detection, ObjectDetector

from support import benchmedia
from support.opencv_ssd import opencv_detect, opencv_net

Rgb = npt.NDArray[np.uint8]
SKIMAGE = ("astronaut", "coffee", "chelsea", "camera", "clock", "horse", "rocket", "coins")


def rgb(image: npt.NDArray[np.generic]) -> Rgb:
    array = np.asarray(image)
    array = array.astype(np.uint8) * 255 if array.dtype == bool else array
    return np.ascontiguousarray(np.stack([array] * 3, axis=-1) if array.ndim == 2 else array[..., :3])


def pictures(count: int) -> list[Rgb]:
    folder, _ = benchmedia.photos(count)
    photos = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.jpg"))[:count]]
    return photos + [rgb(getattr(data, name)()) for name in SKIMAGE]


def ms_a_picture(detect: Callable[[Rgb], object], images: list[Rgb], repeats: int) -> tuple[float, float]:
    """CPU and wall ms a picture, of the pass that took the least CPU."""
    best = (math.inf, math.inf)
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        for image in images:
            detect(image)
        best = min(best, (time.process_time() - cpu, time.perf_counter() - wall))
    return best[0] / len(images) * 1000, best[1] / len(images) * 1000


def agreement(ours: list[list[Detection]], theirs: list[list[Detection]]) -> str:
    same = sum(
        [(d.label, d.box) for d in a] == [(d.label, d.box) for d in b] for a, b in zip(ours, theirs, strict=True)
    )
    diffs = [
        abs(d.confidence - e.confidence)
        for a, b in zip(ours, theirs, strict=True)
        if len(a) == len(b)
        for d, e in zip(a, b, strict=True)
    ]
    found = sum(map(len, theirs))
    return (
        f"{same}/{len(ours)} pictures with the same labels and boxes ({found} detections by OpenCV, "
        f"{sum(map(len, ours))} by ONNX Runtime), largest confidence difference {max(diffs, default=0):.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    images = pictures(args.count)
    start = time.process_time()
    cv2.setNumThreads(args.threads)
    net = opencv_net()
    opencv_detect(net, images[0], 0.5)  # OpenCV sets its layers up on the first forward
    opencv_load = time.process_time() - start
    start = time.process_time()
    detector = ObjectDetector(threads=args.threads).load()
    detector.detect(images[0])
    onnx_load = time.process_time() - start

    print(f"{len(images)} pictures ({args.count} of bench/photos.py's, {len(SKIMAGE)} from scikit-image), "
          f"{args.threads} thread(s), best of {args.repeats}")  # fmt: skip
    print(f"load + first picture, CPU s: OpenCV DNN {opencv_load:.2f}, ONNX Runtime (graph rebuilt) {onnx_load:.2f}")
    theirs = ms_a_picture(lambda image: opencv_detect(net, image, 0.5), images, args.repeats)
    ours = ms_a_picture(detector.detect, images, args.repeats)
    print(f"CPU ms a picture: OpenCV DNN {theirs[0]:.1f}, ONNX Runtime {ours[0]:.1f} ({theirs[0] / ours[0]:.2f}x)")
    print(f"wall ms a picture: OpenCV DNN {theirs[1]:.1f}, ONNX Runtime {ours[1]:.1f}")
    for floor in (0.5, 0.3, 0.1):
        match = agreement([detector.detect(i, floor) for i in images], [opencv_detect(net, i, floor) for i in images])
        print(f"floor {floor}: {match}")


if __name__ == "__main__":
    main()
