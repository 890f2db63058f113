"""What the pages are made of: marked snippets (escaped), clocks, the latency percentiles the ops
page reads from the request histogram, and the square a face is cut out with."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from mediasift.api.latency import request_histogram
from mediasift.api.ui.ops import latency_percentiles
from mediasift.api.ui.portraits import analysed_size, square_around
from mediasift.api.ui.views import clock, marked


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
