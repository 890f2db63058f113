"""Copies browsers play: which originals need one (told from what the probe read in real files), and
what the copy holds (H.264 and AAC in an MP4 with its index first, the original's times, turn and
shape, no larger than asked), read back from the file written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.ingest.probe import Probe, probe_file
from mediasift.media.playable import PACE_AFTER_S, NoCopy, keep_pace, reason_to_copy, write_copy
from mediasift.mediatype import MediaType

from support import mediagen

Maker = Callable[[Path], Path]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mediagen.make_speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav", "the harbour boat leaves at noon")


def _probe(path: Path) -> Probe:
    settings = Settings(home=path.parent / "home")
    return probe_file(path, settings, Inference(settings).language)


PLAYED_AS_THEY_ARE: dict[str, Maker] = {
    "h264.mp4": lambda p: mediagen.make_video(p, 1.0),
    "h264.mov": lambda p: mediagen.make_video(p, 1.0),
    "vp9.webm": lambda p: mediagen.make_video(p, 1.0, codec="libvpx-vp9"),
    "aac.m4a": lambda p: mediagen.make_tone_audio(p, 1.0),
    "mp3.mp3": lambda p: mediagen.make_tone_audio(p, 1.0),
    "opus.ogg": lambda p: mediagen.make_tone_audio(p, 1.0),
    "flac.flac": lambda p: mediagen.make_tone_audio(p, 1.0),
    "pcm.wav": lambda p: mediagen.make_tone_audio(p, 1.0),
}

NEEDING_A_COPY: dict[str, tuple[Maker, str]] = {
    "hevc.mp4": (lambda p: mediagen.make_video(p, 1.0, codec="hevc"), "hevc video"),
    "mpeg4.mp4": (lambda p: mediagen.make_video(p, 1.0, codec="mpeg4"), "mpeg4 video"),
    "h264.avi": (lambda p: mediagen.make_video(p, 1.0), "avi container"),
    "h264.mkv": (lambda p: mediagen.make_video(p, 1.0), "matroska container"),
    "ac3.m4a": (lambda p: mediagen.make_tone_audio(p, 1.0, codec="ac3", container="mp4"), "ac3 sound"),
    "pcm.mov": (lambda p: mediagen.make_tone_audio(p, 1.0, codec="pcm_s16le", container="mov"), "pcm_s16le sound"),
    "pcm.aiff": (lambda p: mediagen.make_tone_audio(p, 1.0, codec="pcm_s16be", container="aiff"), "aiff container"),
}


@pytest.mark.parametrize("name", sorted(PLAYED_AS_THEY_ARE))
def test_what_browsers_play_gets_no_copy(tmp_path: Path, name: str) -> None:
    probe = _probe(PLAYED_AS_THEY_ARE[name](tmp_path / name))
    assert reason_to_copy(probe.media_type, probe.metadata) is None


@pytest.mark.parametrize("name", sorted(NEEDING_A_COPY))
def test_what_browsers_cannot_play_gets_a_copy_and_the_reason(tmp_path: Path, name: str) -> None:
    make, reason = NEEDING_A_COPY[name]
    probe = _probe(make(tmp_path / name))
    assert reason_to_copy(probe.media_type, probe.metadata) == reason


def test_h264_plays_only_in_8_bit_4_2_0_and_a_video_only_with_sound_browsers_play() -> None:
    video = {"container": "mp4", "video_codec": "h264", "pixel_format": "yuv420p", "has_audio": True,
             "audio_codec": "aac"}  # fmt: skip
    assert reason_to_copy(MediaType.VIDEO, video) is None
    assert reason_to_copy(MediaType.VIDEO, video | {"pixel_format": "yuv420p10le"}) == "h264 video in yuv420p10le"
    assert reason_to_copy(MediaType.VIDEO, video | {"pixel_format": "yuv422p"}) == "h264 video in yuv422p"
    assert reason_to_copy(MediaType.VIDEO, video | {"audio_codec": "eac3"}) == "eac3 sound"
    assert reason_to_copy(MediaType.VIDEO, video | {"has_audio": False, "audio_codec": None}) is None
    assert reason_to_copy(MediaType.AUDIO, {"container": "wav", "codec": "pcm_s16le"}) is None
    assert reason_to_copy(MediaType.AUDIO, {"container": "wav", "codec": "pcm_mulaw"}) == "pcm_mulaw sound"
    assert reason_to_copy(MediaType.IMAGE, {"container": "avi"}) is None


def test_a_turned_hevc_phone_video_is_copied_at_its_times_with_its_turn_sound_and_index_first(
    tmp_path: Path, speech: Path
) -> None:
    original = mediagen.make_video(tmp_path / "IMG_0001.mov", 3.0, size=(1280, 720), fps=30, codec="hevc",
                                   audio_wav=speech, rotation=90)  # fmt: skip
    probe = _probe(original)
    assert probe.metadata["rotation"] == 90
    copy = write_copy(original, tmp_path / "copy.mp4", MediaType.VIDEO, max_side=640, rotation=90, budget_s=120)
    assert (copy.mime, copy.width, copy.height) == ("video/mp4", 640, 360)
    written = (tmp_path / "copy.mp4").read_bytes()
    assert written.index(b"moov") < written.index(b"mdat"), "the index comes first: a player starts at once"
    with av.open(str(tmp_path / "copy.mp4")) as played:
        picture, sound = played.streams.video[0], played.streams.audio[0]
        assert (picture.codec_context.name, picture.format.name, picture.width, picture.height) == (
            "h264", "yuv420p", 640, 360,
        )  # fmt: skip
        assert sound.codec_context.name == "aac"
        frames = list(played.decode(picture))
    assert len(frames) == 90
    assert {frame.rotation for frame in frames} == {-90}, "turned as the original (PyAV: counter-clockwise)"
    assert frames[0].time == pytest.approx(0.0, abs=0.001)
    assert frames[-1].time == pytest.approx(89 / 30, abs=0.001)
    assert copy.seconds == pytest.approx(probe.metadata["duration"], abs=0.05)


def test_a_stream_that_starts_late_is_copied_from_the_time_the_analysis_counts_zero(
    tmp_path: Path, speech: Path
) -> None:
    original = mediagen.make_video(tmp_path / "broadcast.ts", 2.0, fps=25, codec="mpeg2video", audio_wav=speech,
                                   options={"output_ts_offset": "10"})  # fmt: skip
    with av.open(str(original)) as ts:
        assert ts.streams.video[0].start_time * ts.streams.video[0].time_base > 1, "a TS starts its clock late"
    assert reason_to_copy(MediaType.VIDEO, _probe(original).metadata) == "mpegts container"
    write_copy(original, tmp_path / "copy.mp4", MediaType.VIDEO, max_side=1280, budget_s=120)
    with av.open(str(tmp_path / "copy.mp4")) as played:
        times = [frame.time for frame in played.decode(video=0)]
    assert len(times) == 50
    assert times[0] == pytest.approx(0.0, abs=0.05)
    assert times[-1] == pytest.approx(49 / 25, abs=0.05)


def test_pixels_that_are_not_square_are_shown_in_their_shape(tmp_path: Path) -> None:
    from fractions import Fraction

    # an anamorphic 16:9 PAL video: stored 704x576, each pixel 16/11 as wide as high, shown 1024x576
    original = mediagen.make_video(tmp_path / "pal.mp4", 0.5, size=(704, 576), codec="mpeg4",
                                   sample_aspect_ratio=Fraction(16, 11))  # fmt: skip
    copy = write_copy(original, tmp_path / "copy.mp4", MediaType.VIDEO, max_side=1280, budget_s=120)
    assert (copy.width, copy.height) == (1024, 576)
    small = write_copy(original, tmp_path / "small.mp4", MediaType.VIDEO, max_side=512, budget_s=120)
    assert (small.width, small.height) == (512, 288)


def test_a_sound_is_copied_as_aac_in_mp4(tmp_path: Path) -> None:
    original = mediagen.make_tone_audio(tmp_path / "surround.m4a", 2.0, channels=2, codec="ac3", container="mp4")
    copy = write_copy(original, tmp_path / "copy.m4a", MediaType.AUDIO, max_side=1280, budget_s=120)
    assert (copy.mime, copy.width, copy.height) == ("audio/mp4", None, None)
    assert copy.seconds == pytest.approx(2.0, abs=0.05)
    with av.open(str(tmp_path / "copy.m4a")) as played:
        assert [(s.type, s.codec_context.name, s.channels) for s in played.streams] == [("audio", "aac", 2)]


def test_a_copy_past_its_time_is_given_up(tmp_path: Path) -> None:
    original = mediagen.make_video(tmp_path / "long.mp4", 1.0, codec="hevc")
    with pytest.raises(NoCopy, match="took over 0 s"):
        write_copy(original, tmp_path / "copy.mp4", MediaType.VIDEO, max_side=1280, budget_s=0.0)


def test_a_copy_is_given_up_early_when_its_pace_would_take_it_past_its_time() -> None:
    started = time.monotonic() - PACE_AFTER_S - 1  # 11 s in: its pace is judged
    with pytest.raises(NoCopy, match=r"10 s of 100 s in 11 s"):
        keep_pace(started, 100.0, 10.0, 100.0)  # 110 s at this pace
    keep_pace(started, 100.0, 12.0, 100.0)  # 92 s at this pace: goes on
    keep_pace(time.monotonic() - 1, 100.0, 0.5, 100.0)  # 200 s at this pace, but only 1 s in: too soon to tell


def _first_pictures(path: Path, n: int = 5) -> bytes:
    """The first ``n`` pictures as decoded: the same for a stream passed through, not for one encoded again."""
    with av.open(str(path)) as media:
        frames = zip(media.decode(video=0), range(n), strict=False)
        return b"".join(frame.to_ndarray(format="rgb24").tobytes() for frame, _ in frames)


def test_h264_and_aac_in_a_container_browsers_do_not_play_are_passed_through_into_the_mp4(
    tmp_path: Path, speech: Path
) -> None:
    """A screen recording's Matroska and a broadcast's TS (its clock from 10 s): their H.264 and AAC
    are put into the MP4 as they are (the same pictures decoded; no quality lost), from the time 0 the analysis
    counts; the sound still plays."""
    for name, options in (("recording.mkv", {}), ("broadcast.ts", {"output_ts_offset": "10"})):
        original = mediagen.make_video(tmp_path / name, 2.0, size=(640, 360), audio_wav=speech, options=options)
        copy = write_copy(original, tmp_path / f"{name}.mp4", MediaType.VIDEO, max_side=1280, budget_s=120)
        duration = _probe(original).metadata["duration"]
        assert (copy.width, copy.height, copy.seconds) == (640, 360, pytest.approx(duration, abs=0.05)), name
        assert _first_pictures(tmp_path / f"{name}.mp4") == _first_pictures(original), name
        with av.open(str(tmp_path / f"{name}.mp4")) as played:
            times = [frame.time for frame in played.decode(video=0)]
        with av.open(str(tmp_path / f"{name}.mp4")) as played:
            sound = sum(frame.samples for frame in played.decode(audio=0))
        assert (len(times), times[0]) == (50, pytest.approx(0.0, abs=0.05)), name
        assert sound == pytest.approx(2.0 * 22050, rel=0.05), name


def test_h264_too_large_or_in_an_avi_is_encoded_again(tmp_path: Path) -> None:
    large = mediagen.make_video(tmp_path / "large.mkv", 0.5, size=(1280, 720))
    copy = write_copy(large, tmp_path / "large.mp4", MediaType.VIDEO, max_side=1280, budget_s=120)
    assert _first_pictures(tmp_path / "large.mp4") == _first_pictures(large), "at the largest size: passed"
    smaller = write_copy(large, tmp_path / "smaller.mp4", MediaType.VIDEO, max_side=1278, budget_s=120)
    assert (copy.width, smaller.width, smaller.height) == (1280, 1278, 718)
    assert _first_pictures(tmp_path / "smaller.mp4") != _first_pictures(large)
    avi = mediagen.make_video(tmp_path / "camera.avi", 0.5)
    write_copy(avi, tmp_path / "camera.mp4", MediaType.VIDEO, max_side=1280, budget_s=120)
    assert _first_pictures(tmp_path / "camera.mp4") != _first_pictures(avi)
