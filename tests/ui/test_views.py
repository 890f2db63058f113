"""What the pages are made of: marked snippets (escaped), clocks, and the latency percentiles the ops
page reads from the request histogram."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from mediasift.api.latency import request_histogram
from mediasift.api.ui.ops import latency_percentiles
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
