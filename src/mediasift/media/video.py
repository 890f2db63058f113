"""The first video stream of a file: what it is, and its frames, upright at display aspect.

Every reader of video frames goes through :class:`VideoSource` (shot detection, the keyframes, OCR's
text gate and its box tracking), so fps, time base, rotation, aspect and frame skipping are worked
out once, the same way for all of them.

Decoding. A fast source (the default) does not decode what the picture can do without: every
B-frame of H.264 (P-frames hardly ever refer to one: the error that can leave, measured at under 2
grey levels, is far below what an analysis notices) and, in other codecs, the frames nothing refers
to. HEVC, for one, codes nearly every frame as B, references included, so skipping B-frames there
would decode almost nothing (6 frames of 326 in a test). On x264 output that decodes under a third
of the frames at well under half the cost of a full decode. ``skip_frame`` is read by the decoder
for each packet, so where every frame is wanted (around a frame asked for, or a gap that needs a
second look) it is switched packet by packet. ``deblock=False`` also skips the loop filter, which
only polishes the picture: for analysis, not for pictures that are kept or read.

Threading: libavcodec's default (slice threads, as many as it likes) measured fastest on 2 cores,
1.2x a single thread; frame threads were 1.5x slower (their hand-offs cost more than a third of the
frames gains), and PyAV holds the GIL while decoding, so Python threads gain nothing. Decoding less
is what pays.

Damage. A packet that fails to decode (FFmpeg reports it as EINVAL, EPERM, ...) is skipped, so a
damaged file still gives the frames around the damage; the skipped packets are counted and logged
once, when the source closes. A stream of which not one frame decodes is :class:`NoVideoFrames`, a
permanent error.

Pictures. Frames come out as players show them: turned by the display matrix (a phone video is
stored landscape and shown portrait) and stretched to the display aspect: a 704x576 frame with a
16:11 sample aspect ratio is shown 1024x576, its width times the sample aspect ratio. One shared
``VideoReformatter`` scales, stretches and converts in one step (1.9x faster than
``to_ndarray(width=, height=)``); converting to a full-size array is the expensive step, not
decoding, so only the frames that are wanted are converted.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter
from av.video.stream import VideoStream

from mediasift.errors import PermanentError

log = logging.getLogger(__name__)
_DAMAGE_TOLD: set[str] = set()  # files whose damage this process has warned of

Skip = Literal["DEFAULT", "NONREF", "BIDIR"]  # values of a decoder's ``skip_frame`` used here
Window = tuple[float, float]  # seconds from the stream's start, both ends included
B_FRAME_MARGIN_S = 0.35  # around a frame asked for exactly, every B-frame is decoded (B-pyramid references)
DECODE_ON_S = 2.0  # with no random-access points known, a window further ahead than this is sought


class NoVideoFrames(PermanentError):
    """The file has no video stream, or not one of its frames decodes."""


def _fast_skip(codec: str) -> Skip:
    """The ``skip_frame`` of a fast decode: every B-frame for H.264, the frames nothing refers to
    for other codecs."""
    return "BIDIR" if codec == "h264" else "NONREF"


@dataclass(frozen=True)
class StreamInfo:
    """What the container and codec say about the stream, read without decoding."""

    codec: str
    fps: float
    time_base: float
    start: float  # seconds of the stream's first timestamp
    duration: float | None
    frame_count: int | None  # as the container declares it, None where it declares none
    width: int  # stored size
    height: int
    sample_aspect_ratio: Fraction  # the shape of a stored pixel, width over height

    @classmethod
    def of(cls, stream: VideoStream) -> StreamInfo:
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate and 1 <= float(rate) <= 1000 else 25.0
        time_base = float(stream.time_base) if stream.time_base else 1 / 90000
        start = stream.start_time * time_base if stream.start_time is not None else 0.0
        duration = stream.duration * time_base if stream.duration else None
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        return cls(
            codec=stream.codec_context.name,
            fps=fps,
            time_base=time_base,
            start=start,
            duration=duration,
            frame_count=stream.frames or None,
            width=stream.width,
            height=stream.height,
            sample_aspect_ratio=Fraction(sar) if sar and sar > 0 else Fraction(1),
        )

    def seconds(self, pts: int | None) -> float | None:
        return None if pts is None else pts * self.time_base - self.start

    def display_width(self, width: int) -> int:
        """A stored width at display aspect: times the sample aspect ratio, to the nearest even number
        of pixels (as a 4:2:0 picture's width is); unchanged for square pixels."""
        if self.sample_aspect_ratio == 1:
            return width
        return max(2, 2 * round(width * self.sample_aspect_ratio / 2))


class VideoSource:
    """The first video stream of ``path``, open for decoding; use it as a context manager.

    ``fast`` skips the frames the picture can do without (see the module); ``deblock=False`` skips
    the loop filter, an option a decoder takes when it opens, so it is fixed per source.
    Raises :class:`NoVideoFrames` when the file is no readable video or has no video stream.
    """

    def __init__(self, path: Path, *, fast: bool = True, deblock: bool = True) -> None:
        self.path = path
        try:
            self._container = av.open(str(path))
        except av.error.FFmpegError as exc:
            raise NoVideoFrames(f"not a readable video: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise NoVideoFrames("the file has no video stream")
        self._stream = self._container.streams.video[0]
        self.info = StreamInfo.of(self._stream)
        self.skip: Skip = _fast_skip(self.info.codec) if fast else "DEFAULT"
        if not deblock:
            self._stream.codec_context.options = {"skip_loop_filter": "all"}
        self.decoded = 0  # frames decoded so far
        self.sync_times: list[float] = []  # random-access points met while decoding the whole stream
        self._rotation: int | None = None
        self._reformatter = VideoReformatter()
        self._packets = 0
        self._damaged = 0
        self._first_damage = ""

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._damaged:
            # Several operators decode one file: the damage is a warning once a file in this process.
            said = str(self.path) in _DAMAGE_TOLD
            log.log(logging.DEBUG if said else logging.WARNING, "%s: skipped %d of %d video packets that do not "
                    "decode (%s)", self.path.name, self._damaged, self._packets, self._first_damage)  # fmt: skip
            if len(_DAMAGE_TOLD) > 1000:
                _DAMAGE_TOLD.clear()
            _DAMAGE_TOLD.add(str(self.path))
            self._damaged = 0
        self._container.close()

    # ------------------------------------------------------------------------------ what it is

    @property
    def rotation(self) -> int:
        """Clockwise degrees a player turns the picture (0, 90, 180, 270), as ingest reads it.

        FFmpeg attaches the display matrix to decoded frames and PyAV reads no stream side data, so
        this is the first decoded frame's. Asked before any frame is decoded, it decodes the
        stream's first frame with a second reader (some 25 ms at 720p): the readers of frames never
        ask before.
        """
        if self._rotation is None:
            with VideoSource(self.path) as peek:
                next(peek.frames())
                self._rotation = peek.rotation
        return self._rotation

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of a whole frame as shown: upright, at display aspect."""
        width, height = self.info.display_width(self.info.width), self.info.height
        return (height, width) if self._quarter_turns() % 2 else (width, height)

    # ------------------------------------------------------------------------------ frames

    def frames(self) -> Iterator[tuple[float, VideoFrame]]:
        """(seconds, frame) of the whole stream, in display order, from the start of a source that
        has not read yet; records the random-access points in ``sync_times``. Raises
        :class:`NoVideoFrames` at the end when not one frame decoded."""
        yield from self._decode(collect_sync=True)
        if not self.decoded:
            raise NoVideoFrames(f"no frame of the video decodes ({self._first_damage or 'no frames'})")

    def window_frames(
        self,
        windows: Sequence[Window],
        *,
        sync_times: Sequence[float] = (),
        margin: float | None = None,
        first_only: bool = False,
    ) -> Iterator[tuple[int, float, VideoFrame]]:
        """(index of the window as given, seconds, frame) for every frame inside a window, or only the
        first one of each window (which stops decoding sooner); windows visited in time order.

        The source seeks only where that saves decoding: back, or forward past a random-access point
        (``sync_times``, as a whole-stream decode records them; without them, forward more than
        ``DECODE_ON_S``). With ``margin=None`` the frames a fast source skips are skipped inside the
        windows too; with a number, every frame is decoded within the windows widened by that many
        seconds (the references of a wanted B-frame). A window between two frames a fast decode gave
        needs no margin: every frame a skipped frame there refers to lies between those two.
        """
        merged = _merged(windows)
        every_frame = [] if margin is None else merge_windows([(lo - margin, hi + margin) for lo, hi, _ in merged])
        sync = sorted(sync_times)
        source: Iterator[tuple[float, VideoFrame]] | None = None
        pending: tuple[float, VideoFrame] | None = None
        position = math.inf  # time of the last frame taken from the decoder
        for lo, hi, members in merged:
            if source is None or _should_seek(position, lo, lo - (margin or 0.0), sync):
                source, pending = self._seek(lo - (margin or 0.0), every_frame), None
            waiting = dict(members)
            # itertools.chain, not a generator: leaving the loop must not close ``source``
            for seconds, frame in chain([pending] if pending else [], source):
                pending = None
                if seconds > hi:
                    pending = (seconds, frame)  # the first frame past this window may be in the next
                    break
                position = seconds
                for index in [i for i, (a, b) in waiting.items() if a <= seconds <= b]:
                    yield index, seconds, frame
                    if first_only:
                        del waiting[index]
                if first_only and not waiting:
                    break
            else:
                source = None  # the stream ended

    def frames_at(
        self,
        times: Sequence[float],
        *,
        exact: bool = True,
        sync_times: Sequence[float] = (),
        max_side: int | None = None,
    ) -> list[tuple[float, npt.NDArray[np.uint8]]]:
        """(time, :meth:`picture`) of the frame shown at each time (seconds from the stream's start),
        in time order; a time with no frame is left out.

        With ``exact=False`` the frames a fast source skips are not decoded at all, and each time
        gets the first other frame from that time on (within half a second): the very frame for the
        keyframe times shot detection picks, at less cost.
        """
        wanted = sorted(set(times))
        half = 0.5 / self.info.fps
        windows = [(t - 2 * half, t + half) if exact else (t - half, t + 0.5) for t in wanted]
        margin = B_FRAME_MARGIN_S if exact else None
        best: dict[int, tuple[float, VideoFrame]] = {}
        for index, seconds, frame in self.window_frames(windows, sync_times=sync_times, margin=margin,
                                                        first_only=not exact):  # fmt: skip
            target = wanted[index]
            if index not in best or abs(seconds - target) < abs(best[index][0] - target):
                best[index] = (seconds, frame)
        return [(wanted[i], self.picture(frame, max_side)) for i, (_, frame) in sorted(best.items())]

    def picture(self, frame: VideoFrame, max_side: int | None = None, *, grey: bool = False) -> npt.NDArray[np.uint8]:
        """``frame`` as shown, RGB (or luma with ``grey``): upright, at display aspect, shrunk to at
        most ``max_side`` pixels a side while converting (cheaper than converting at full size)."""
        width, height = self.info.display_width(frame.width), frame.height
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = max(2, round(width * scale)), max(2, round(height * scale))
        pixels = self._reformatter.reformat(
            frame, width=width, height=height, format="gray" if grey else "rgb24", interpolation=Interpolation.AREA
        ).to_ndarray()
        turns = self._quarter_turns()
        return np.ascontiguousarray(np.rot90(pixels, k=-turns)) if turns else np.asarray(pixels, dtype=np.uint8)

    def _quarter_turns(self) -> int:
        """Clockwise quarter turns that make a frame upright (a rotation between them: the one below)."""
        return (self.rotation // 90) % 4

    # ------------------------------------------------------------------------------ decoding

    def _seek(self, seconds: float, every_frame: Sequence[Window]) -> Iterator[tuple[float, VideoFrame]]:
        """Frames from the random-access point at or before ``seconds`` on."""
        target = max(0.0, seconds) + self.info.start
        self._container.seek(round(target / self.info.time_base), stream=self._stream, backward=True)
        return self._decode(every_frame)

    def _decode(
        self, every_frame: Sequence[Window] = (), *, collect_sync: bool = False
    ) -> Iterator[tuple[float, VideoFrame]]:
        """(seconds, frame) in display order from where the demuxer is, decoding the frames
        ``self.skip`` names only where a packet's time falls in one of ``every_frame`` (sorted, apart)."""
        info, codec = self.info, self._stream.codec_context
        starts = [lo for lo, _ in every_frame]
        last = -1 / info.fps
        for packet in self._container.demux(self._stream):
            when = info.seconds(packet.pts)
            if collect_sync and packet.is_keyframe and when is not None:
                self.sync_times.append(when)
            if when is None:
                codec.skip_frame = "DEFAULT"  # no timestamps: frames are counted, which needs all of them
            else:
                index = bisect_right(starts, when) - 1
                codec.skip_frame = "DEFAULT" if index >= 0 and when <= every_frame[index][1] else self.skip
            self._packets += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:  # damaged data: skipped, counted, logged once on closing
                self._damaged += 1
                self._first_damage = self._first_damage or f"{type(exc).__name__}: {exc}"
                continue
            for frame in frames:
                seconds = info.seconds(frame.pts)
                last = seconds if seconds is not None else last + 1 / info.fps
                self.decoded += 1
                if self._rotation is None:
                    self._rotation = self._clockwise(frame)
                yield last, frame

    def _clockwise(self, frame: VideoFrame) -> int:
        """The frame's display matrix as clockwise degrees (FFmpeg gives them counter-clockwise), or
        the old ``rotate`` tag of the stream."""
        if frame.rotation:
            return round(-frame.rotation) % 360
        try:
            return int(self._stream.metadata.get("rotate", 0)) % 360
        except ValueError:
            return 0


def _should_seek(position: float, lo: float, first_needed: float, sync_times: Sequence[float]) -> bool:
    """Back, or forward past a random-access point before ``first_needed`` (a window's start less its
    margin): decoding on from ``position`` would cost more."""
    if position >= lo:
        return True
    if not sync_times:
        return lo - position > DECODE_ON_S
    index = bisect_right(sync_times, first_needed) - 1
    return index >= 0 and sync_times[index] > position


def _merged(windows: Sequence[Window]) -> list[tuple[float, float, list[tuple[int, Window]]]]:
    """Sorted windows with overlapping ones merged, each with the original (index, window) it covers."""
    merged: list[tuple[float, float, list[tuple[int, Window]]]] = []
    for index, (lo, hi) in sorted(enumerate(windows), key=lambda item: item[1]):
        if merged and lo <= merged[-1][1]:
            start, end, members = merged[-1]
            merged[-1] = (start, max(end, hi), [*members, (index, (lo, hi))])
        else:
            merged.append((lo, hi, [(index, (lo, hi))]))
    return merged


def merge_windows(windows: Sequence[Window]) -> list[Window]:
    """Sorted windows with overlapping (and touching) ones merged."""
    return [(lo, hi) for lo, hi, _ in _merged(windows)]
