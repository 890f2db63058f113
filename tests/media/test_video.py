"""The video source: stream info, frames upright at display aspect, fast and windowed decoding, and
damaged or missing video, on videos written here with known rotation and pixel shape."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mediasift.media.video import NoVideoFrames, VideoSource

from support import mediagen, shotgen

PAL_WIDE = Fraction(16, 11)  # 704x576 stored, 16:9 on screen


def _halves(size: tuple[int, int]) -> np.ndarray:
    """A stored picture whose left half is red and right half blue."""
    width, height = size
    scene = np.zeros((height, width, 3), np.uint8)
    scene[:, : width // 2] = (255, 0, 0)
    scene[:, width // 2 :] = (0, 0, 255)
    return scene


def _red_and_blue(pixels: np.ndarray, red: np.ndarray, blue: np.ndarray) -> bool:
    """Whether the pixels under the mask ``red`` are red and those under ``blue`` blue."""
    r, b = pixels[red].mean(axis=0), pixels[blue].mean(axis=0)
    return bool(r[0] > 200 > r[2] and b[2] > 200 > b[0])


def test_stream_info_of_a_plain_video(tmp_path: Path) -> None:
    path = mediagen.make_video(tmp_path / "plain.mp4", 2.0, size=(320, 240), fps=25)
    with VideoSource(path) as video:
        info = video.info
        assert (info.codec, info.fps, info.width, info.height) == ("h264", 25.0, 320, 240)
        assert info.duration == pytest.approx(2.0) and info.frame_count == 50
        assert info.sample_aspect_ratio == 1 and info.seconds(round(1.0 / info.time_base)) == pytest.approx(1.0)
        assert video.rotation == 0 and video.display_size == (320, 240)


def test_a_rotated_video_comes_out_upright(tmp_path: Path) -> None:
    """Stored landscape with the left half red, shown turned 90 degrees clockwise: red on top."""
    path = mediagen.make_video(tmp_path / "turned.mp4", 1.0, size=(320, 240), rotation=90, scenes=[_halves((320, 240))])
    with VideoSource(path) as video:
        assert video.rotation == 90 and video.display_size == (240, 320)  # known before any frame is read
        (time, pixels), *_ = video.frames_at([0.5])
        assert time == 0.5 and pixels.shape == (320, 240, 3)
        top, bottom = np.zeros(pixels.shape[:2], bool), np.zeros(pixels.shape[:2], bool)
        top[:40], bottom[-40:] = True, True
        assert _red_and_blue(pixels, top, bottom)
        (_, small), *_ = video.frames_at([0.5], max_side=160)
        assert small.shape == (160, 120, 3)


def test_an_anamorphic_video_comes_out_at_display_aspect(tmp_path: Path) -> None:
    """704x576 pixels 16:11 wide are shown 1024x576: every picture is stretched to that, its halves
    still halves."""
    path = mediagen.make_video(tmp_path / "pal.mp4", 1.0, size=(704, 576), scenes=[_halves((704, 576))],
                               sample_aspect_ratio=PAL_WIDE)  # fmt: skip
    with VideoSource(path) as video:
        assert (video.info.width, video.info.height, video.info.sample_aspect_ratio) == (704, 576, PAL_WIDE)
        assert video.display_size == (1024, 576)
        (_, pixels), *_ = video.frames_at([0.5])
        assert pixels.shape == (576, 1024, 3)
        left, right = np.zeros(pixels.shape[:2], bool), np.zeros(pixels.shape[:2], bool)
        left[:, 16:496], right[:, 528:-16] = True, True
        assert _red_and_blue(pixels, left, right)
        (_, small), *_ = video.frames_at([0.5], max_side=512, exact=False)
        assert small.shape == (288, 512, 3)
    with VideoSource(path) as video:
        _, frame = next(video.frames())
        assert video.picture(frame, 640, grey=True).shape == (360, 640)  # as the text gate looks at it


def test_a_rotated_anamorphic_video_is_turned_after_it_is_stretched(tmp_path: Path) -> None:
    path = mediagen.make_video(tmp_path / "both.mp4", 1.0, size=(704, 576), rotation=270, sample_aspect_ratio=PAL_WIDE)
    with VideoSource(path) as video:
        (_, pixels), *_ = video.frames_at([0.5], exact=False)
        assert video.display_size == (576, 1024) and pixels.shape == (1024, 576, 3)


def test_a_fast_decode_skips_b_frames_and_a_window_gets_its_frames(tmp_path: Path) -> None:
    frames, _ = shotgen.render(shotgen.Edit([shotgen.Shot("astronaut", 50, "drift")], []), (160, 90))
    path = shotgen.write_frames(tmp_path / "drift.mp4", frames, (160, 90))
    with VideoSource(path) as fast:
        times = [seconds for seconds, _ in fast.frames()]
        assert 0 < fast.decoded == len(times) < 50 and fast.sync_times == [0.0]
    with VideoSource(path, fast=False) as full:
        assert [round(seconds * 25) for seconds, _ in full.frames()] == list(range(50))
    with VideoSource(path) as video:
        windows = [(0.5, 0.62), (1.2, 1.3)]
        every = [(index, round(seconds * 25)) for index, seconds, _ in video.window_frames(windows, margin=0.0)]
        assert every == [(0, 13), (0, 14), (0, 15), (1, 30), (1, 31), (1, 32)]  # with a margin: every frame
        sparse = [round(seconds * 25) for _, seconds, _ in video.window_frames([(0.0, 2.0)])]
        assert sparse == [round(t * 25) for t in times]  # without: what a fast decode gives
        exact = video.frames_at([0.52, 1.24])  # the frames shown then, B-frames or not
        assert [time for time, _ in exact] == [0.52, 1.24]


def _damaged(path: Path, packets: slice, noise: bool) -> Path:
    """A copy of the video with the ``packets`` of its stream overwritten (their first 4 bytes, the
    NAL unit's size, kept): with random bytes, or zeros."""
    with av.open(str(path)) as container:
        spans = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size][packets]
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for position, size in spans:
        data[position + 4 : position + size] = rng.bytes(size - 4) if noise else bytes(size - 4)
    damaged = path.with_name(f"damaged-{path.name}")
    damaged.write_bytes(bytes(data))
    return damaged


def test_damaged_packets_are_skipped_counted_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = mediagen.make_video(tmp_path / "plain.mp4", 4.0, size=(320, 240), scenes=[mediagen.photo("astronaut")])
    damaged = _damaged(path, slice(20, 60, 4), noise=True)  # ten packets of coded pictures
    with caplog.at_level(logging.WARNING), VideoSource(damaged, fast=False) as video:
        frames = list(video.frames())
    assert 60 <= len(frames) < 100 and frames[-1][0] == pytest.approx(3.96), "the frames around the damage"
    (warning,) = [record.getMessage() for record in caplog.records if record.name == "mediasift.media.video"]
    assert "skipped 10 of" in warning and "do not decode" in warning


def test_no_video_stream_or_no_decodable_frame_is_a_permanent_error(tmp_path: Path) -> None:
    audio = mediagen.make_tone_audio(tmp_path / "tone.m4a", 1.0)
    junk = mediagen.make_random_bytes(tmp_path / "junk.mp4", 50_000)
    for path in (audio, junk):
        with pytest.raises(NoVideoFrames):
            VideoSource(path)
    zeroed = _damaged(mediagen.make_video(tmp_path / "plain.mp4", 1.0, size=(160, 120)), slice(None), noise=False)
    with VideoSource(zeroed) as video, pytest.raises(NoVideoFrames):
        list(video.frames())
