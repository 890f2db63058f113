"""The fingerprint operator: per shot, samples from the shot's start with their hashes and
information (none for black), and the coded stream's hash (the same in another container)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediasift.media.stream_hash import video_stream_digest
from mediasift.media.video import VideoSource
from mediasift.operators.fingerprint import VideoFingerprint, sample_times

from support import dupgen


def test_samples_start_at_each_shot_and_thin_out_along_a_long_one() -> None:
    params = VideoFingerprint().params(None)  # type: ignore[arg-type]
    times = sample_times([(0.0, 1.0), (1.0, 1.1), (1.1, 13.1)], params)
    assert times[:2] == [(0.25, 0), (0.75, 0)] and times[2] == pytest.approx((1.05, 1))
    long_shot = [time for time, shot in times if shot == 2]
    assert long_shot[:2] == pytest.approx([1.35, 1.85]) and long_shot[-1] < 13.1
    assert long_shot[-1] - long_shot[-2] == pytest.approx(2.0), "every 2 s past the first 6 s of a shot"


def test_black_has_no_information_and_a_remux_keeps_the_stream_hash(tmp_path: Path) -> None:
    def film() -> object:
        yield from dupgen.intro("THE TITLE")
        yield from dupgen.frames(dupgen.edit(2, 3))

    original = dupgen.write(tmp_path / "film.mp4", film())  # type: ignore[arg-type]
    data = dupgen.fingerprint(original)
    shots = data["shots"]
    assert shots[0][0] == 0.0 and shots[-1][1] == pytest.approx(data["duration"]) and len(shots) >= 3
    black = [s for s in data["samples"] if s[0] < 0.9]
    title = [s for s in data["samples"] if 1.1 < s[0] < 2.9]
    assert black and all(s[3] == 0.0 for s in black), "a black frame carries no match"
    assert title and all(s[3] > 0.5 for s in title)
    assert all(len(s[2]) == 16 for s in data["samples"])
    remux = dupgen.fingerprint(dupgen.remuxed(original, tmp_path / "film.mkv"))
    assert remux["stream_sha256"] == data["stream_sha256"] and dupgen.digest(original) != dupgen.digest(
        tmp_path / "film.mkv"
    )
    reencoded = dupgen.fingerprint(dupgen.copy_of(original, tmp_path / "again.mp4", dupgen.Copy(bit_rate=300_000)))
    assert reencoded["stream_sha256"] != data["stream_sha256"]


def test_the_stream_hash_read_finds_the_random_access_points_that_spare_decoding_again(tmp_path: Path) -> None:
    path = dupgen.write(tmp_path / "film.mp4", dupgen.frames(dupgen.edit(4, shots=2, seconds=(4.0, 4.0))))
    stream = video_stream_digest(path)
    with VideoSource(path, deblock=False) as whole:
        for _ in whole.frames():
            pass
    assert list(stream.sync_times) == whole.sync_times and len(whole.sync_times) >= 2, "one at each cut at least"
    # 2.5 s apart in one shot: without the random-access points the reader seeks back to the shot's
    # start for the second time (a gap over DECODE_ON_S), with them it decodes on.
    times = [0.25, 2.75, 4.25]
    with VideoSource(path, deblock=False) as blind, VideoSource(path, deblock=False) as guided:
        seeking = blind.frames_at(times, exact=False, max_side=128)
        on = guided.frames_at(times, exact=False, sync_times=stream.sync_times, max_side=128)
    assert [t for t, _ in on] == [t for t, _ in seeking] == times
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(on, seeking, strict=True)), "the same pictures"
    assert guided.decoded < blind.decoded
