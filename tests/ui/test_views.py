"""What the pages are made of: marked snippets (escaped), clocks, the latency percentiles the ops
page reads from the request histogram, and the square a face is cut out with."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from mediasift.api.latency import request_histogram
from mediasift.api.ui.ops import latency_percentiles
from mediasift.api.ui.portraits import square_around
from mediasift.api.ui.views import analysed_size, boxes, clock, marked
from mediasift.service_models import AssetDetail, AssetExport, ExportedSegment


def test_matched_words_are_marked_and_everything_else_escaped() -> None:
    shown = marked('<b>Orange</b> "submarines" & oranges', "orange sub")
    assert (
        str(shown)
        == "&lt;b&gt;<mark>Orange</mark>&lt;/b&gt; &#34;<mark>submarines</mark>&#34; &amp; <mark>oranges</mark>"
    )
    assert (
        str(marked("<script>alert(1)</script>", "<script>"))
        == "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;"
    )
    assert str(marked("a b c", "a")) == "a b c", "one-letter words mark nothing"


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, ""), (0, "0:00.0"), (1.85, "0:01.8"), (65.0, "1:05.0"), (3725, "1:02:05")]
)
def test_times_read_as_a_clock(seconds: float | None, text: str) -> None:
    assert clock(seconds) == text


def test_latency_percentiles_are_read_from_the_histogram_buckets() -> None:
    registry = CollectorRegistry()
    seconds = request_histogram(registry)
    for _ in range(90):
        seconds.labels("GET", "/", "200").observe(0.02)  # the (0.01, 0.025] bucket
    for _ in range(10):
        seconds.labels("GET", "/", "200").observe(3.0)  # (2.5, 5]
    seconds.labels("POST", "/upload", "201").observe(0.3)
    (busiest, other) = latency_percentiles(registry)
    assert busiest["label"] == "GET /" and other["label"] == "POST /upload"
    p50, p90, p99 = busiest["values"]
    assert 0.01 < p50 <= 0.025 and p90 == pytest.approx(0.025) and 2.5 < p99 <= 5.0


def test_a_face_is_cut_out_as_a_square_around_it_inside_the_picture() -> None:
    assert square_around([100, 100, 40, 60], 640, 480, margin=0.5) == (60.0, 70.0, 120.0)
    assert square_around([0, 0, 40, 40], 640, 480, margin=0.5) == (0.0, 0.0, 80.0), "moved in at the corner"
    assert square_around([600, 440, 40, 40], 640, 480, margin=0.5) == (560.0, 400.0, 80.0)
    assert square_around([10, 5, 50, 90], 120, 100, margin=0.5) == (0.0, 0.0, 100.0), "no larger than the picture"


def test_boxes_are_in_the_pixels_of_the_picture_shrunk_for_analysis() -> None:
    assert analysed_size(2560, 1440) == (2560, 1440)
    width, height = analysed_size(2561, 1000)
    assert width == pytest.approx(2560) and height == pytest.approx(1000 * 2560 / 2561)
    assert analysed_size(1000, 5120) == (500, 2560)


def test_a_large_picture_s_boxes_are_placed_as_fractions_of_the_picture_analysed() -> None:
    """A 5120 x 2880 photo was analysed at 2560 x 1440: a caption read at (1280, 1296, 640, 72) there
    sits at the middle of the bottom tenth, whatever the file's own size."""
    caption = {"text": "harbour", "confidence": 0.98, "box": [1280, 1296, 640, 72]}
    segment = ExportedSegment(operator="ocr", key="image", start=None, end=None, region=None, text="harbour",
                              confidence=0.98, data={"lines": [caption]})  # fmt: skip
    for width, height, expected in ((5120, 2880, (0.5, 0.9, 0.25, 0.05)), (2560, 1440, (0.5, 0.9, 0.25, 0.05))):
        detail = AssetDetail.model_construct(metadata={"width": width, "height": height}, artifacts=[])
        document = AssetExport.model_construct(segments={"ocr": [segment]})
        (box,) = boxes(detail, document)
        assert (box["x"], box["y"], box["w"], box["h"]) == pytest.approx(expected)
    detail = AssetDetail.model_construct(metadata={"width": 2600, "height": 1462}, artifacts=[])
    (box,) = boxes(detail, AssetExport.model_construct(segments={"ocr": [segment]}))
    assert box["x"] == pytest.approx(0.5), "a picture just over the side is shrunk too"


def test_an_animated_picture_has_no_boxes_over_it() -> None:
    """The browser plays an animated picture on its own clock: a box found in its third frame would
    be drawn over whichever frame is showing, so none is drawn; the same box over a still is."""
    caption = {"text": "harbour", "confidence": 0.98, "box": [10, 10, 100, 20]}
    segment = ExportedSegment(operator="ocr", key="frame-00002", start=1.0, end=1.5, region=None, text="harbour",
                              confidence=0.98, data={"lines": [caption]})  # fmt: skip
    document = AssetExport.model_construct(segments={"ocr": [segment]})
    still = AssetDetail.model_construct(metadata={"width": 480, "height": 270}, artifacts=[])
    animated = AssetDetail.model_construct(metadata={"width": 480, "height": 270, "animated": True}, artifacts=[])
    assert len(boxes(still, document)) == 1
    assert boxes(animated, document) == []
