"""Copies of videos and sounds that web browsers play, made for the originals they cannot.

Browsers play H.264 (8-bit 4:2:0), VP8, VP9 and AV1 pictures in MP4, QuickTime or WebM, and AAC,
MP3, Opus, Vorbis or FLAC sound (PCM in WAV). A phone's HEVC, a camera's AVI or MPEG-2, WMV, 10-bit
H.264, AC-3 or ALAC sound play in no Chromium build, so a page could only say so and offer the file.
For those the copy is H.264 and AAC in MP4 with its index first (a player starts and seeks before
the download ends), no larger than ``max_side`` pixels a side, at the original's times, so a moment
found in the original plays at the same second of the copy. A turned phone video keeps its display
rotation; stored pixels that are not square are scaled to their shown shape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

from mediasift.media.video import StreamInfo
from mediasift.mediatype import MediaType

BROWSER_VIDEO_CONTAINERS = frozenset({"mp4", "mov", "webm"})
BROWSER_AUDIO_CONTAINERS = frozenset({"mp4", "mov", "webm", "ogg", "wav", "flac", "mp3", "aac"})
BROWSER_VIDEO_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_SOUND_CODECS = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})
WAV_SOUND_CODECS = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"})
H264_PIXELS = frozenset({"yuv420p", "yuvj420p"})  # 10-bit and 4:2:2/4:4:4 H.264 play in no Chromium
# what browsers play inside an MP4, so a copy passes it through as it is (VP8 and Vorbis they play only in WebM)
PASSED_VIDEO = frozenset({"h264", "vp9", "av1"})
PASSED_SOUND = frozenset({"aac", "mp3"})

PRESET = "veryfast"  # x264: at 720p about 3x faster than medium, some 15% larger at the same quality
CRF = "23"
SOUND_BITS_PER_S = 128_000
# A copy that would take longer than this share of the time a job may run is given up early, judged
# by its pace after PACE_AFTER_S: a long 4K HEVC film cannot be re-encoded on a small machine in time.
BUDGET_SHARE = 0.8
PACE_AFTER_S = 10.0


class NoCopy(Exception):
    """The copy was given up: it would take longer than its time allows, or nothing in the original
    could be decoded."""


@dataclass(frozen=True)
class Copy:
    mime: str
    width: int | None
    height: int | None
    seconds: float  # the last frame's or sound's end, as written


def reason_to_copy(media_type: MediaType, metadata: Mapping[str, Any]) -> str | None:
    """Why browsers cannot play this original (e.g. "hevc video"), or None when they can."""
    container = str(metadata.get("container") or "")
    if media_type is MediaType.VIDEO:
        codec = str(metadata.get("video_codec") or "")
        if container not in BROWSER_VIDEO_CONTAINERS:
            return f"{container or 'unknown'} container"
        if codec not in BROWSER_VIDEO_CODECS:
            return f"{codec or 'unknown'} video"
        if codec == "h264" and metadata.get("pixel_format") not in H264_PIXELS:
            return f"h264 video in {metadata.get('pixel_format')}"
        sound = metadata.get("audio_codec") if metadata.get("has_audio") else None
        return None if sound is None or _plays(str(sound), container) else f"{sound} sound"
    if media_type is MediaType.AUDIO:
        if container not in BROWSER_AUDIO_CONTAINERS:
            return f"{container or 'unknown'} container"
        sound = str(metadata.get("codec") or "")
        return None if _plays(sound, container) else f"{sound or 'unknown'} sound"
    return None


def _plays(sound: str, container: str) -> bool:
    return sound in BROWSER_SOUND_CODECS or (container == "wav" and sound in WAV_SOUND_CODECS)


def write_copy(
    source: Path, target: Path, media_type: MediaType, *, max_side: int, rotation: int = 0, budget_s: float
) -> Copy:
    """Write ``source``'s playable copy (:mod:`this module <mediasift.media.playable>`) to ``target``.

    A stream browsers play in MP4 (H.264 in 8-bit 4:2:0, VP9 or AV1 no larger than ``max_side``; AAC or
    MP3) is passed through as it is, only put in the MP4 (a screen recording's Matroska, a broadcast's
    TS): no quality lost, and a hundred times faster than re-encoding. ``rotation`` is the clockwise turn
    a player gives the original (its metadata), kept on the copy. Raises :class:`NoCopy` when the copy
    would not be done within ``budget_s`` at its pace or no picture could be decoded, and av's errors
    when the original cannot be opened."""
    started = time.monotonic()
    with (
        av.open(str(source)) as original,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as copy,
    ):
        picture_in = original.streams.video[0] if media_type is MediaType.VIDEO and original.streams.video else None
        sound_in = original.streams.audio[0] if original.streams.audio else None
        wanted = [stream for stream in (picture_in, sound_in) if stream is not None]
        # times from the earliest stream's start, as the analysis counts them (a TS starts at 1.4 s)
        offset = min((s.start_time * s.time_base for s in wanted if s.start_time is not None and s.time_base),
                     default=Fraction(0))  # fmt: skip
        tracks: dict[int, _Track] = {}
        if picture_in is not None:
            passes = _passes_picture(picture_in, max_side) and original.format.name != "avi"  # AVI: no reliable times
            tracks[picture_in.index] = (
                _Passed(copy, picture_in, offset) if passes else _Pictures(copy, picture_in, max_side, offset)
            )
            if rotation:
                cast(VideoStream, tracks[picture_in.index].stream).set_display_rotation(-rotation)  # counter-clockwise
        if sound_in is not None:
            passes = sound_in.codec_context.name in PASSED_SOUND and original.format.name != "avi"
            tracks[sound_in.index] = _Passed(copy, sound_in, offset) if passes else _Sound(copy, sound_in, offset)
        duration = float(original.duration / 1e6) if original.duration else None
        for packet in original.demux(*wanted):
            track = tracks[packet.stream.index]
            track.take(packet)
            keep_pace(started, budget_s, track.end, duration)
        for track in tracks.values():
            track.flush()
        picture = tracks.get(picture_in.index) if picture_in is not None else None
        if picture is not None and not picture.written:
            raise NoCopy("no picture of the original could be decoded")
        end = max((track.end for track in tracks.values()), default=0.0)
    if picture is None:
        return Copy(mime="audio/mp4", width=None, height=None, seconds=round(end, 3))
    shown = cast(VideoStream, picture.stream)
    return Copy(mime="video/mp4", width=shown.width, height=shown.height, seconds=round(end, 3))


def _passes_picture(stream: VideoStream, max_side: int) -> bool:
    codec = stream.codec_context.name
    eight_bit = codec != "h264" or (stream.format is not None and stream.format.name in H264_PIXELS)
    square = not stream.sample_aspect_ratio or stream.sample_aspect_ratio == 1
    return codec in PASSED_VIDEO and eight_bit and square and max(stream.width, stream.height) <= max_side


def keep_pace(started: float, budget_s: float, position: float | None, duration: float | None) -> None:
    elapsed = time.monotonic() - started
    if elapsed > budget_s:
        raise NoCopy(f"the copy took over {budget_s:.0f} s")
    if elapsed > PACE_AFTER_S and position and duration and elapsed * duration / position > budget_s:
        raise NoCopy(
            f"at its pace ({position:.0f} s of {duration:.0f} s in {elapsed:.0f} s) the copy would take "
            f"over {budget_s:.0f} s"
        )


def fitted(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``width`` x ``height`` shrunk to at most ``max_side`` a side (never enlarged), both even (H.264
    in 4:2:0 needs it)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class _Track:
    """One stream of the copy: takes the original's packets (their times from ``offset``), and knows
    how far it has written (``end``, seconds) and whether it wrote anything."""

    stream: VideoStream | AudioStream

    def __init__(self, copy: OutputContainer, offset: Fraction) -> None:
        self.copy = copy
        self.offset = offset
        self.end = 0.0
        self.written = False

    def take(self, packet: av.Packet) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write what is held back (an encoder's last frames)."""

    def shifted(self, pts: int | None, time_base: Fraction | None) -> int | None:
        """``pts`` counted from the copy's start (in ``time_base``)."""
        return None if pts is None or not time_base else round((pts * time_base - self.offset) / time_base)


class _Passed(_Track):
    """A stream browsers play in MP4: its packets copied as they are."""

    def __init__(self, copy: OutputContainer, original: VideoStream | AudioStream, offset: Fraction) -> None:
        super().__init__(copy, offset)
        self.stream = cast(VideoStream | AudioStream, copy.add_stream_from_template(original))
        self.time_base = original.time_base or Fraction(1, 90_000)

    def take(self, packet: av.Packet) -> None:
        if packet.size == 0 or (packet.pts is None and packet.dts is None):  # the demuxer's end marker; untimed
            return
        packet.pts, packet.dts = self.shifted(packet.pts, self.time_base), self.shifted(packet.dts, self.time_base)
        if packet.pts is not None:
            self.end = max(self.end, float((packet.pts + (packet.duration or 0)) * self.time_base))
        packet.stream = self.stream
        self.copy.mux(packet)  # (which counts the packet's times in the copy's time base)
        self.written = True


class _Pictures(_Track):
    """The picture stream of the copy: frames scaled to their shown shape, H.264 at the original's times."""

    stream: VideoStream

    def __init__(self, copy: OutputContainer, original: VideoStream, max_side: int, offset: Fraction) -> None:
        super().__init__(copy, offset)
        original.thread_type = "AUTO"
        shown = StreamInfo.of(original).display_width(original.width)  # square pixels, as the keyframes are
        width, height = fitted(shown, original.height, max_side)
        rate = original.average_rate or original.guessed_rate or Fraction(30)
        self.stream = stream = cast(VideoStream, copy.add_stream("libx264", rate=rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        self.time_base = original.time_base or Fraction(1, 90_000)
        stream.time_base = self.time_base
        stream.options = {"preset": PRESET, "crf": CRF}
        self.last_pts: int | None = None

    def take(self, packet: av.Packet) -> None:
        for frame in _decoded(packet):
            self.add(cast(av.VideoFrame, frame))

    def add(self, frame: av.VideoFrame) -> None:
        scaled = frame.reformat(self.stream.width, self.stream.height, "yuv420p")
        pts = None
        if frame.pts is not None and frame.time_base is not None:
            pts = round((frame.pts * frame.time_base - self.offset) / self.time_base)
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            pts = 0 if self.last_pts is None else self.last_pts + 1  # no time, or out of order: just after the last
        scaled.pts, scaled.time_base = pts, self.time_base
        self.last_pts = pts
        self.written = True
        self.end = max(self.end, float(pts * self.time_base))
        self.copy.mux(self.stream.encode(scaled))

    def flush(self) -> None:
        self.copy.mux(self.stream.encode(None))


class _Sound(_Track):
    """The sound stream of the copy: AAC, mono or stereo, at the original's rate."""

    stream: AudioStream

    def __init__(self, copy: OutputContainer, original: AudioStream, offset: Fraction) -> None:
        super().__init__(copy, offset)
        rate = original.rate or 48_000
        layout = "mono" if (original.channels or 1) == 1 else "stereo"
        self.stream = stream = cast(AudioStream, copy.add_stream("aac", rate=rate, layout=layout))
        stream.bit_rate = SOUND_BITS_PER_S
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=1024)

    def take(self, packet: av.Packet) -> None:
        for frame in _decoded(packet):
            frame.pts = self.shifted(frame.pts, frame.time_base)
            if frame.pts is None or frame.pts >= 0:
                self.add(cast(av.AudioFrame, frame))

    def add(self, frame: av.AudioFrame | None) -> None:
        for chunk in self.resampler.resample(frame):
            if chunk.pts is not None and chunk.time_base is not None:
                self.end = max(self.end, float((chunk.pts + chunk.samples) * chunk.time_base))
            self.written = True
            self.copy.mux(self.stream.encode(chunk))

    def flush(self) -> None:
        self.add(None)
        self.copy.mux(self.stream.encode(None))


def _decoded(packet: av.Packet) -> list[av.VideoFrame | av.AudioFrame]:
    """The packet's frames; none for a damaged packet (left out, as a player skips it)."""
    try:
        return cast("list[av.VideoFrame | av.AudioFrame]", packet.decode())
    except av.error.InvalidDataError:
        return []
