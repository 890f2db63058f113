"""YuNet rebuilt as ONNX from the yuface wheel's library (models/yunet_graph.py, models/face_detector.py)
against that library itself, through the wheel's own extension: the same result rows on generated and
real pictures; the built model cached; the other threads of the process run while it detects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from mediasift.models import face_detector, yunet_graph
from mediasift.models.face_detector import MAX_SIDE, FaceDetector
from mediasift.models.pictures import shrunk

from support import benchmedia, gil, mediagen, scenegen, shotgen
from support.built_models import not_built

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(threads=1).load()


def _bgr(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(shrunk(rgb, MAX_SIDE)[:, :, ::-1])


def _library_rows(bgr: np.ndarray) -> np.ndarray:
    """The rows libfacedetection itself writes (its ``facedetect_cnn``), through the wheel's extension."""
    from yuface.yuface import detect as extension

    return np.asarray(extension(bgr), dtype=np.int64).reshape(-1, 16)[:, :15]  # the 16th is unused


def _assert_same_rows(detector: FaceDetector, pictures: Iterator[np.ndarray]) -> int:
    """Each picture's rows equal the library's: the same faces in the same order, each value within one
    unit, and all but a few values exactly (float sums in another order may cross a truncation step,
    a percent or a pixel; none did where it was measured). The number of rows compared."""
    ours = detector._runtime.get()
    rows = values = differing = 0
    for rgb in pictures:
        bgr = _bgr(rgb)
        expected = _library_rows(bgr)
        found = np.asarray(ours(bgr), dtype=np.int64)[:, :15]
        assert found.shape == expected.shape, (bgr.shape, found[:, :5], expected[:, :5])
        assert np.abs(found - expected).max(initial=0) <= 1, (bgr.shape, found, expected)
        rows += len(found)
        values += found.size
        differing += int(np.count_nonzero(found != expected))
    assert differing <= values // 100, f"{differing} of {values} values differ from the library's"
    return rows


def _generated() -> Iterator[np.ndarray]:
    """Scikit-image's photos at odd sizes and crops (padding to multiples of 32 matters), a group of
    faces, scenes without any, a tiny picture and noise."""
    rng = np.random.default_rng(7)
    for name in shotgen.COLOUR_PHOTOS + shotgen.GREY_PHOTOS:
        picture = mediagen.photo(name)
        yield picture
        yield scenegen.cover(picture, (int(rng.integers(100, 700)), int(rng.integers(100, 700))))
    astronaut = mediagen.photo("astronaut")
    yield np.concatenate([np.concatenate([astronaut, astronaut[:, ::-1]], 1)] * 2, 0)  # four faces
    yield cv2.resize(astronaut, (37, 45), interpolation=cv2.INTER_AREA)
    yield rng.integers(0, 256, (333, 517, 3), dtype=np.uint8)
    for index, name in enumerate(("landscape", "city", "room", "figure")):
        yield scenegen.scene(name, (480 + index * 7, 360 - index * 5), index)


def _lfw() -> Iterator[np.ndarray]:
    """Scikit-image's LFW subset, every fifth crop (faces, then non-faces), upscaled to 200 px."""
    for crop in skimage_data.lfw_subset()[::5]:
        grey = cv2.resize((crop * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
        yield np.stack([grey] * 3, axis=-1)


def test_the_rows_are_the_librarys_own_on_generated_pictures(detector: FaceDetector) -> None:
    assert _assert_same_rows(detector, _generated()) >= 5  # not vacuous: the astronauts, low-score candidates


def test_the_rows_are_the_librarys_own_on_real_faces(detector: FaceDetector) -> None:
    assert _assert_same_rows(detector, _lfw()) >= 15  # most of the 20 faces are found


@pytest.mark.slow
def test_the_rows_are_the_librarys_own_on_the_bench_photos(detector: FaceDetector) -> None:
    folder, _ = benchmedia.photos(60, 0, 1600)
    paths = sorted(folder.glob("*.jpg"))
    assert len(paths) == 60
    photos = (cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) for path in paths)
    assert _assert_same_rows(detector, photos) >= 20


def test_the_faces_keep_the_detectors_contract(detector: FaceDetector) -> None:
    """The astronaut's face, as the library's rows give it, scaled back to the input's pixels."""
    picture = np.repeat(np.repeat(mediagen.photo("astronaut"), 2, 0), 2, 1)  # 1024 px, shrunk to 640
    (face,) = detector.detect(picture, 0.8)
    row = _library_rows(_bgr(picture))[0]
    assert abs(face.confidence - row[0] / 100) <= 0.01
    assert all(abs(v - r * 1.6) <= 2 for v, r in zip(face.box, row[1:5], strict=True))


def test_the_built_model_passes_the_onnx_checker() -> None:
    onnx = pytest.importorskip("onnx")
    layers = yunet_graph.read_layers(face_detector.library_file())
    assert [(layer.channels, layer.filters) for layer in layers[:3]] == [(32, 16), (16, 16), (16, 16)]
    onnx.checker.check_model(onnx.load_from_string(yunet_graph.build(layers)), full_check=True)


def _rows(detector: FaceDetector) -> list[list[list[int]]]:
    ours = detector._runtime.get()
    return [ours(_bgr(mediagen.photo(name))).tolist() for name in ("astronaut", "camera", "coffee")]


def test_the_built_model_is_cached_and_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _rows(FaceDetector(threads=1, built_models=tmp_path).load())
    assert [entry.name[:6] for entry in tmp_path.iterdir()] == ["yunet-"]
    assert sum(map(len, expected)) >= 2
    with not_built(monkeypatch, yunet_graph, "read_layers"):
        cached = FaceDetector(threads=1, built_models=tmp_path).load()
        assert _rows(cached) == expected


def test_a_damaged_cache_entry_is_built_again_and_replaced(tmp_path: Path) -> None:
    FaceDetector(threads=1, built_models=tmp_path).load()._runtime.get()
    (entry,) = tmp_path.iterdir()
    model = entry / face_detector.MODEL_FILE
    whole = model.stat().st_size
    model.write_bytes(model.read_bytes()[: whole // 2])
    detector = FaceDetector(threads=1, built_models=tmp_path).load()
    assert detector.detect(mediagen.photo("astronaut"), 0.8)
    assert model.stat().st_size == whole


def test_a_cache_that_cannot_be_written_only_costs_the_build(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    detector = FaceDetector(threads=1, built_models=blocked / "built").load()
    assert detector.detect(mediagen.photo("astronaut"), 0.8)


def test_other_threads_run_while_it_detects(detector: FaceDetector) -> None:
    """A thread counting in Python beside the detector is stalled (no step for 5 ms or more) for a
    small part of the detections' time; with the GIL held through each call it was stalled for all of it."""
    picture = np.ascontiguousarray(np.tile(skimage_data.astronaut(), (2, 2, 1)))  # 1024 px: shrunk to 640
    detector.detect(picture)  # warm
    stalled = gil.stalled(lambda: [detector.detect(picture) for _ in range(10)])
    assert stalled < 0.3, f"the counting thread was stalled {stalled:.0%} of the detections' time"
