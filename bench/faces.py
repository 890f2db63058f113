"""The face detector's CPU time a picture, against the yuface wheel's libfacedetection it was rebuilt from;
and the face embedder's, against dlib's own runtime of the network it was rebuilt from.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/faces.py [--count 60] [--repeats 3]

On ``--count`` of ``bench/photos.py``'s photos (1600 px wide, made once and cached in /tmp), the
scikit-image photos with and without faces and 40 of its LFW crops (upscaled to 200 px), each shrunk
to the detector's 640 px: mediasift's detector (the library's network as ONNX on ONNX Runtime, one
thread; decoding and suppression in numpy) and the library through the wheel's extension (one OpenMP
thread), each timed over the bench photos, best of ``--repeats`` passes, in CPU seconds of this
process. Prints ms of CPU a photo for each, then how far their result rows agree over every picture:
pictures whose face count differs, rows compared, rows identical, the largest difference in score
(whole percent), box and landmark values (pixels).

Then the embedder, on the chips of the faces in ``tests/support/facegen.py`` (the astronaut's variants,
the cameraman, LFW crops): ms of CPU a face for dlib (``compute_face_descriptor``, the chips one call
each) and for the network as ONNX on ONNX Runtime (one thread), the largest difference between their
unit vectors, and for what share of each one's time a pure-Python thread beside it was stalled
(``tests/support/gil.py``: dlib holds the GIL while it computes; ONNX Runtime releases it).
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import ctypes
import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data

from mediasift.models.face_detector import MAX_SIDE, FaceDetector
from mediasift.models.face_embedder import FaceEmbedder, align, weight_files
from mediasift.models.pictures import shrunk
from mediasift.models.weights import package_dir

from support import benchmedia, facegen, gil

Bgr = npt.NDArray[np.uint8]
SKIMAGE = ("astronaut", "camera", "coffee", "chelsea", "rocket", "clock", "coins", "moon")


def bgr(rgb: npt.NDArray[np.uint8]) -> Bgr:
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(shrunk(rgb, MAX_SIDE)[:, :, ::-1])


def cpu_ms(detect: Callable[[Bgr], object], pictures: list[Bgr], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for picture in pictures:
            detect(picture)
        best = min(best, (time.process_time() - started) / len(pictures) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from yuface.yuface import detect as extension

    for path in sorted((package_dir("yuface").parent / "yuface.libs").glob("libgomp*.so*")):
        ctypes.CDLL(str(path)).omp_set_num_threads(1)  # the library's OpenMP threads: one, as ours

    def library(picture: Bgr) -> npt.NDArray[np.int64]:
        return np.asarray(extension(picture), dtype=np.int64).reshape(-1, 16)[:, :15]

    ours_runtime = FaceDetector(threads=1).load()._runtime.get()

    def ours(picture: Bgr) -> npt.NDArray[np.int64]:
        return np.asarray(ours_runtime(picture), dtype=np.int64)[:, :15]

    folder, _ = benchmedia.photos(args.count, 0, 1600)
    photos = [bgr(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)) for path in sorted(folder.glob("*.jpg"))]
    others = [bgr(getattr(data, name)()) for name in SKIMAGE]
    for crop in data.lfw_subset()[::5]:
        others.append(bgr(cv2.resize((crop * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)))

    for picture in photos[:3]:  # warm both
        library(picture), ours(picture)
    print(f"{len(photos)} photos, ms of CPU a photo: library {cpu_ms(library, photos, args.repeats):.1f}, "
          f"ONNX Runtime {cpu_ms(ours, photos, args.repeats):.1f}")  # fmt: skip

    counts = rows = identical = 0
    worst = np.zeros(3, np.int64)
    for picture in photos + others:
        expected, found = library(picture), ours(picture)
        if expected.shape != found.shape:
            counts += 1
            continue
        difference = np.abs(found - expected)
        rows += len(found)
        identical += int((difference == 0).all(axis=1).sum())
        if len(found):
            parts = (difference[:, :1], difference[:, 1:5], difference[:, 5:])
            worst = np.maximum(worst, [part.max() for part in parts])
    print(f"{len(photos) + len(others)} pictures: face counts differ on {counts}; {rows} rows, {identical} identical; "
          f"largest difference: score {worst[0]} %, box {worst[1]} px, landmarks {worst[2]} px")  # fmt: skip
    embedder()


def embedder() -> None:
    import dlib

    detector = FaceDetector(threads=1).load()
    chips = []
    for picture in facegen.astronaut_variants() + facegen.cameraman() + facegen.lfw_faces(20):
        faces = detector.detect(picture.pixels, 0.8)
        if faces:
            chips.append(align(picture.pixels, faces[0].landmarks))
    reference = dlib.face_recognition_model_v1(str(weight_files()[0]))
    ours = FaceEmbedder(threads=1).load()
    reference.compute_face_descriptor(chips[0]), ours.embed(chips[:1])  # warm both

    def with_dlib() -> npt.NDArray[np.float32]:
        raw = np.asarray([np.asarray(reference.compute_face_descriptor(chip)) for chip in chips], np.float32)
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)

    def with_onnx() -> npt.NDArray[np.float32]:
        return np.concatenate([ours.embed([chip]) for chip in chips])

    dlib_s, onnx_s = cpu_s(with_dlib), cpu_s(with_onnx)
    difference = float(np.abs(with_dlib() - with_onnx()).max())
    dlib_ms, onnx_ms = dlib_s / len(chips) * 1000, onnx_s / len(chips) * 1000
    print(f"{len(chips)} faces, ms of CPU a face: dlib {dlib_ms:.1f}, ONNX Runtime {onnx_ms:.1f} "
          f"({dlib_s / onnx_s:.1f}x); largest difference of their vectors {difference:.1e}")  # fmt: skip
    print(f"a Python thread beside them was stalled (5 ms or more without a step) for: dlib "
          f"{gil.stalled(with_dlib):.0%}, ONNX Runtime {gil.stalled(with_onnx):.0%} of their time")  # fmt: skip


def cpu_s(work: Callable[[], object]) -> float:
    started = time.thread_time()
    work()
    return time.thread_time() - started


if __name__ == "__main__":
    main()
