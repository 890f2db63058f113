"""The object detector rebuilt as ONNX (models/ssd_graph.py) against OpenCV DNN running the package's
TensorFlow graph itself, which is what the detector was before: same network outputs, same detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from mediasift.models import object_detector
from mediasift.models.object_detector import ObjectDetector, suppress
from mediasift.models.ssd_graph import PIXEL_SCALE, PIXEL_SHIFT, parse_text_graph

from support.built_models import not_built
from support.opencv_ssd import blob, opencv_detect, opencv_net

skimage_data = pytest.importorskip("skimage.data")

Rgb = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def opencv() -> cv2.dnn.Net:
    return opencv_net()


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    return ObjectDetector(threads=1).load()


def _photos() -> dict[str, Rgb]:
    return {
        "astronaut": skimage_data.astronaut(),
        "coffee": skimage_data.coffee(),
        "chelsea": skimage_data.chelsea(),
        "motorcycle": skimage_data.stereo_motorcycle()[0],
    }


@pytest.mark.slow
def test_the_graph_scales_pixels_as_the_constants_say(opencv: cv2.dnn.Net) -> None:
    """PIXEL_SCALE and PIXEL_SHIFT are the graph's own Preprocessor/mul and /sub (held in the .pb)."""
    picture = blob(skimage_data.coffee())
    opencv.setInput(picture)
    scaled = np.asarray(opencv.forward("Preprocessor/sub"))
    np.testing.assert_allclose(scaled, picture * PIXEL_SCALE + PIXEL_SHIFT, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("floor", [0.5, 0.1])
def test_detections_match_opencv_running_the_tensorflow_graph(
    opencv: cv2.dnn.Net, detector: ObjectDetector, floor: float
) -> None:
    total = 0
    for name, image in _photos().items():
        expected = opencv_detect(opencv, image, floor)
        found = detector.detect(image, min_confidence=floor)
        assert [(d.label, d.box) for d in found] == [(d.label, d.box) for d in expected], name
        assert [d.confidence for d in found] == pytest.approx([d.confidence for d in expected], abs=1e-4), name
        total += len(found)
    assert total == {0.5: 7, 0.1: 20}[floor]  # the comparison is not vacuous


def _box_at(x: float, width: float = 0.2) -> list[float]:
    return [x, 0.0, x + width, 0.2]


def test_suppression_keeps_a_box_overlapping_up_to_the_threshold() -> None:
    """Two boxes 0.2 wide, shifted by s, overlap (0.2 - s) / (0.2 + s): 0.594 at s = 0.051, 0.606 at 0.049."""
    scores = np.array([0.9, 0.8], np.float32)
    inside = np.array([_box_at(0.0), _box_at(0.051)], np.float32)
    just_past = np.array([_box_at(0.0), _box_at(0.049)], np.float32)
    assert suppress(inside, scores, 0.6, top_k=100) == [0, 1]
    assert suppress(just_past, scores, 0.6, top_k=100) == [0]


def test_suppression_takes_the_best_first_and_at_most_top_k() -> None:
    boxes = np.array([_box_at(0.0), _box_at(0.01), _box_at(0.5), _box_at(0.8)], np.float32)
    scores = np.array([0.3, 0.9, 0.5, 0.4], np.float32)
    assert suppress(boxes, scores, 0.6, top_k=100) == [1, 2, 3]  # box 0 overlaps the better box 1
    assert suppress(boxes, scores, 0.6, top_k=2) == [1, 2]


def test_text_graph_parser_reads_nested_messages_and_repeated_fields() -> None:
    text = (
        'node { name: "a/b" op: "Conv2D" input: "x" input: "w" attr { key: "strides" value { list { i: 1 i: 2 } } } }'
    )
    text += ' node { name: "c" attr { key: "epsilon" value { f: 0.0010000000475 } }'
    text += ' attr { key: "clip" value { b: false } } }'
    nodes = parse_text_graph(text)["node"]
    assert [n["name"] for n in nodes] == [["a/b"], ["c"]]
    assert nodes[0]["input"] == ["x", "w"]
    assert nodes[0]["attr"][0]["value"][0]["list"][0]["i"] == [1, 2]
    assert nodes[1]["attr"][0]["value"][0]["f"] == [pytest.approx(0.001)]
    assert nodes[1]["attr"][1]["value"][0]["b"] == [False]


def _detections(detector: ObjectDetector) -> list[list[tuple[str, tuple[int, int, int, int], float]]]:
    return [[(d.label, d.box, d.confidence) for d in detector.detect(image, 0.3)] for image in _photos().values()]


@pytest.mark.slow
def test_the_built_detector_is_cached_and_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = ObjectDetector(threads=1, built_models=tmp_path).load()
    entries = list(tmp_path.iterdir())
    assert [entry.name[:4] for entry in entries] == ["ssd-"]
    expected = _detections(built)
    assert sum(map(len, expected)) >= 5  # the comparison is not vacuous
    with not_built(monkeypatch, object_detector, "build"):
        cached = ObjectDetector(threads=1, built_models=tmp_path).load()
    assert _detections(cached) == expected


@pytest.mark.slow
def test_a_damaged_cache_entry_is_built_again_and_replaced(tmp_path: Path) -> None:
    ObjectDetector(threads=1, built_models=tmp_path).load()
    (entry,) = tmp_path.iterdir()
    whole = (entry / "model.onnx").stat().st_size
    (entry / "model.onnx").write_bytes((entry / "model.onnx").read_bytes()[: whole // 2])
    detector = ObjectDetector(threads=1, built_models=tmp_path).load()
    assert detector.detect(skimage_data.chelsea(), 0.5)[0].label == "cat"
    assert (entry / "model.onnx").stat().st_size == whole


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_only_costs_the_build(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    detector = ObjectDetector(threads=1, built_models=blocked / "built").load()
    assert detector.detect(skimage_data.chelsea(), 0.5)[0].label == "cat"
