"""Shots of a video: hard cuts, fades (through black, white or any flat card) and dissolves, and one
keyframe per shot.

Speed. Decoding is the cost, and converting a frame to an array is most of the rest, so:

* The first pass decodes only frames that other frames depend on: ``skip_frame`` drops every
  B-frame of H.264 (P-frames hardly ever refer to one: the error that can leave, measured at under
  2 grey levels, is far below what the features notice) and the frames nothing refers to in other
  codecs, and ``skip_loop_filter`` skips deblocking, which only polishes the picture. On x264
  output that decodes under a third of the frames at well under half the cost of a full decode.
  Every decoded frame is shrunk to 64x36 YUV by one shared ``VideoReformatter`` (area averaging);
  the features are numpy over chunks of those small frames.
* Skipped frames matter only where a hard cut falls between two decoded frames more than one frame
  apart: a second pass seeks there and decodes that gap in full, switching ``skip_frame`` per
  packet, to place the cut on its exact frame. x264 puts an I-frame on a scene cut, so on most
  files the frame before a cut is a P-frame and no gap needs a second look.
* Threading: libavcodec's default (slice threads, as many as it likes) measured fastest on 2
  cores, 1.2x a single thread; frame threads were 1.5x slower (their hand-offs cost more than a
  third of the frames gains), and PyAV holds the GIL while decoding, so Python threads gain
  nothing. Decoding less is what pays.

Robustness. A cut is a change between two neighbouring frames that stands out against the changes
around it on both sides (a rolling median), so steady motion (a pan, a moving object) does not make
cuts. A change whose before and after match within 0.4 s is a transient (a camera flash,
something passing the lens), not a boundary. A dissolve is a stretch whose middle frame is the mix
of its ends, and flatter than them; a fade is a run of flat frames (black, white or any one colour:
nearly all pixels in one narrow band of luma and of chroma) between two shots, or a dissolve that
passes through near-black. A flat run at the very start or end is a fade in or out, no boundary,
and no keyframe is taken from a flat frame; a flat run that is a transient (a flash) is none either.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, pairwise
from pathlib import Path
from typing import Any, Literal

import av
import av.error
import cv2
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange, Interpolation, VideoReformatter
from av.video.stream import VideoStream

from mediasift.errors import PermanentError

SMALL_W, SMALL_H = 64, 36  # analysis frame; H must be a multiple of 4 for yuv420p
Y_PIXELS = SMALL_W * SMALL_H
SHARP_W, SHARP_H = 160, 90  # sharpness of keyframe candidates is measured at this size
SHARPNESS_EVERY_S = 0.25  # ... on a decoded frame this often
CHUNK = 512  # samples analysed per numpy batch
B_FRAME_MARGIN_S = 0.35  # around a wanted frame every B-frame is decoded (B-pyramid references)
FULL = ColorRange.JPEG
Skip = Literal["DEFAULT", "NONREF", "BIDIR"]  # values of a decoder's ``skip_frame`` used here
MAX_SAMPLE_GAP_S = 0.34  # the features need decoded frames at least this close, as a rule


class NoVideoFrames(PermanentError):
    """The file has no video stream, or not one of its frames decodes."""


@dataclass(frozen=True)
class ShotConfig:
    """The knobs of detection. Every field changes the output, so all of them are lineage.

    A change is on a 0-1 scale: half the distance of the colour histograms plus the mean absolute
    difference of the pixels, both of the frames shrunk to 64x36.
    """

    cut_min: float = 0.05  # a cut changes at least this much between neighbouring frames
    cut_ratio: float = 3.0  # ... and this many times the rolling median around it
    cut_margin: float = 0.02  # ... plus this
    context_s: float = 1.0  # the rolling median looks this far each side
    transient_s: float = 0.4  # before and after match within this long: a flash, not a cut
    transient_match: float = 0.35  # "match": their change is below this share of the jump
    dissolve_scales_s: tuple[float, ...] = (0.2, 0.35, 0.5, 0.75)  # half-lengths tried
    dissolve_min: float = 0.1  # the ends of a dissolve differ at least this much
    dissolve_mix: float = 0.3  # the middle differs from the mix of the ends by at most this share
    dissolve_contrast: float = 0.9  # ... and has at most this share of the ends' contrast
    black_luma: float = 0.12  # a pixel darker than this (0-1) is black
    black_share: float = 0.97  # a frame with at least this share of black pixels is black
    flat_share: float = 0.97  # ... or with this share in one band of 24 luma and 32 chroma levels is flat
    card_shot_s: float = 1.0  # a flat run that is not black and lasts this long is a card (a shot), no fade
    min_shot_s: float = 0.4  # boundaries closer than this merge into one
    edge_s: float = 0.3  # a keyframe keeps this far from a shot's transitions
    keyframe_candidates: int = 7  # frames per shot compared for sharpness
    keyframe_sharpness: float = 0.75  # of those at least this share as sharp as the sharpest, the cheapest to read
    long_shot_s: float = 60.0  # a shot longer than this gets one more keyframe per this long


@dataclass(frozen=True)
class Shot:
    """A shot in seconds and frames (``end_frame`` exclusive) and the frame that stands for it.

    ``transition_in`` says how the shot begins: "start" (the first shot), "cut", "fade" or
    "dissolve"; a gradual transition is split between its two shots at its middle.
    ``extra_keyframe_times`` are more keyframes for a shot longer than ``long_shot_s``.
    """

    start: float
    end: float
    start_frame: int
    end_frame: int
    transition_in: str
    keyframe_time: float
    extra_keyframe_times: tuple[float, ...] = ()


@dataclass(frozen=True)
class ShotList:
    """The shots in order, covering the video without gaps, and what was learnt about the stream."""

    shots: list[Shot]
    fps: float
    frames: int
    duration: float
    width: int
    height: int
    decoded_frames: int  # frames the detector decoded, both passes together
    sync_times: tuple[float, ...] = ()  # random-access points, which make ``read_frames`` faster


def detect_shots(path: Path, *, config: ShotConfig | None = None) -> ShotList:
    """The shots of the first video stream of ``path``. Raises :class:`NoVideoFrames`."""
    config = config or ShotConfig()
    scan = _scan(path, config)
    decoded = len(scan.times)
    if decoded > 1 and float(np.median(np.diff(scan.times))) > MAX_SAMPLE_GAP_S:
        scan = _scan(path, config, skip="DEFAULT")  # the codec skipped nearly everything: decode all
        decoded += len(scan.times)
    boundaries, transients = _boundaries(scan, config)
    decoded += _refine_cuts(path, scan, boundaries)
    shots = _shots(scan, boundaries, transients, config)
    return ShotList(
        shots=shots,
        fps=scan.fps,
        frames=round(scan.duration * scan.fps),
        duration=scan.duration,
        width=scan.width,
        height=scan.height,
        decoded_frames=decoded,
        sync_times=tuple(scan.sync_times),
    )


def read_frames(
    path: Path,
    times: Sequence[float],
    *,
    exact: bool = True,
    sync_times: Sequence[float] = (),
    max_side: int | None = None,
    rotation: int = 0,
) -> list[tuple[float, np.ndarray]]:
    """(time, upright RGB array) of the frame shown at each time (seconds from the stream's start).

    Times are visited in order. The reader seeks only when a random-access point lies between where
    it is and where it must go (``sync_times``, as :func:`detect_shots` reports them; without them,
    for every jump of more than two seconds), and skips what it can on the way (B-frames of H.264,
    frames nothing refers to otherwise). With ``exact=False`` it decodes none of those at all and
    gives the first other frame from that time on (within half a second): the very frame for the
    keyframe times :func:`detect_shots` picks, at less cost.
    ``max_side`` shrinks a frame while converting it, cheaper than converting at full size;
    ``rotation`` is clockwise degrees as players apply them. A time with no frame is left out.
    """
    wanted = sorted(set(times))
    best: dict[int, tuple[float, VideoFrame]] = {}
    with _open(path) as (container, stream):
        info = _StreamInfo.of(stream)
        half = 0.5 / info.fps
        windows = [(t - 2 * half, t + half) if exact else (t - half, t + 0.5) for t in wanted]
        margin = B_FRAME_MARGIN_S if exact else None
        reader = _WindowReader(container, stream, info, windows, sync_times, margin=margin, deblock=True)
        for index, seconds, frame in reader.frames(first_only=not exact):
            target = wanted[index]
            if index not in best or abs(seconds - target) < abs(best[index][0] - target):
                best[index] = (seconds, frame)
        reformatter = VideoReformatter()
        return [(wanted[i], _rgb(frame, reformatter, max_side, rotation)) for i, (_, frame) in sorted(best.items())]


# --------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _StreamInfo:
    fps: float
    start: float  # seconds of the stream's first timestamp
    time_base: float
    duration: float | None
    skip: Skip  # the ``skip_frame`` of a fast pass: which frames need not be decoded

    @classmethod
    def of(cls, stream: VideoStream, skip: Skip | None = None) -> _StreamInfo:
        """``skip`` defaults to every B-frame for H.264 and to the frames nothing refers to for other
        codecs: HEVC, for one, codes nearly every frame as B, references included, so skipping
        B-frames there would decode almost nothing (6 frames of 326 in a test)."""
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate and 1 <= float(rate) <= 1000 else 25.0
        time_base = float(stream.time_base) if stream.time_base else 1 / 90000
        start = stream.start_time * time_base if stream.start_time is not None else 0.0
        duration = stream.duration * time_base if stream.duration else None
        skip = skip or ("BIDIR" if stream.codec_context.name == "h264" else "NONREF")
        return cls(fps, start, time_base, duration, skip)

    def seconds(self, pts: int | None) -> float | None:
        return None if pts is None else pts * self.time_base - self.start


@contextmanager
def _open(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """The first video stream of a file, opened for decoding."""
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise NoVideoFrames(f"not a readable video: {exc}") from exc
    with container:
        if not container.streams.video:
            raise NoVideoFrames("the file has no video stream")
        yield container, container.streams.video[0]


def _decode(
    container: InputContainer,
    stream: VideoStream,
    info: _StreamInfo,
    wanted: Sequence[tuple[float, float]] = (),
    sync: list[float] | None = None,
) -> Iterator[tuple[float, VideoFrame]]:
    """(time, frame) in display order, decoding the frames ``info.skip`` names only where a packet's
    time falls in one of ``wanted`` (sorted, non-overlapping windows).

    ``skip_frame`` is read by the decoder for each packet, so it is switched packet by packet. The
    times of random-access packets are appended to ``sync`` when given. Packets that fail to decode
    are skipped, so a damaged file still gives the frames around the damage.
    """
    codec = stream.codec_context
    starts = [lo for lo, _ in wanted]
    last = -1 / info.fps
    for packet in container.demux(stream):
        when = info.seconds(packet.pts)
        if sync is not None and packet.is_keyframe and when is not None:
            sync.append(when)
        if when is None:
            codec.skip_frame = "DEFAULT"  # no timestamps: frames are counted, which needs all of them
        else:
            index = bisect_right(starts, when) - 1
            codec.skip_frame = "DEFAULT" if index >= 0 and when <= wanted[index][1] else info.skip
        try:
            frames = packet.decode()
        except av.error.FFmpegError:  # damaged data: skipped (FFmpeg reports it as EINVAL, EPERM, ...)
            continue
        for frame in frames:
            seconds = info.seconds(frame.pts)
            last = seconds if seconds is not None else last + 1 / info.fps
            yield last, frame


class _WindowReader:
    """Frames inside time windows, visited in order; seeks only where that saves decoding.

    Outside the windows (widened by ``margin``, for the reference B-frames a wanted B-frame may
    need) the frames ``info.skip`` names are skipped; with ``margin=None`` they are skipped
    everywhere. A window between two frames the first pass decoded needs no margin: every frame a
    skipped frame there refers to lies between those two or was decoded.
    """

    def __init__(
        self,
        container: InputContainer,
        stream: VideoStream,
        info: _StreamInfo,
        windows: Sequence[tuple[float, float]],
        sync_times: Sequence[float],
        *,
        margin: float | None,
        deblock: bool,
    ) -> None:
        self.container, self.stream, self.info = container, stream, info
        self.windows = _merge_windows(windows)
        self.margin = margin or 0.0
        self.b_frames = [] if margin is None else [(lo - margin, hi + margin) for lo, hi, _ in self.windows]
        self.sync_times = sorted(sync_times)
        if not deblock:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        self.decoded = 0

    def frames(self, *, first_only: bool = False) -> Iterator[tuple[int, float, VideoFrame]]:
        """(index of the window as given, time, frame) for every frame inside a window, or only the
        first one of each window (which stops decoding sooner)."""
        source: Iterator[tuple[float, VideoFrame]] | None = None
        pending: tuple[float, VideoFrame] | None = None
        position = math.inf  # time of the last frame taken from the decoder
        for lo, hi, members in self.windows:
            if source is None or self._should_seek(position, lo):
                source, pending = self._seek(lo), None
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

    def _should_seek(self, position: float, lo: float) -> bool:
        """Back, or forward past a random-access point (decoding on from here would cost more)."""
        if position >= lo:
            return True
        if not self.sync_times:
            return lo - position > 2.0
        index = bisect_right(self.sync_times, lo - self.margin) - 1
        return index >= 0 and self.sync_times[index] > position

    def _seek(self, lo: float) -> Iterator[tuple[float, VideoFrame]]:
        target = max(0.0, lo - self.margin)
        self.container.seek(round((target + self.info.start) / self.info.time_base), stream=self.stream, backward=True)
        for item in _decode(self.container, self.stream, self.info, _merge_spans(self.b_frames)):
            self.decoded += 1
            yield item


def _merge_windows(
    windows: Sequence[tuple[float, float]],
) -> list[tuple[float, float, list[tuple[int, tuple[float, float]]]]]:
    """Sorted windows with overlapping ones merged, each with the original (index, window) it covers."""
    merged: list[tuple[float, float, list[tuple[int, tuple[float, float]]]]] = []
    for index, (lo, hi) in sorted(enumerate(windows), key=lambda item: item[1]):
        if merged and lo <= merged[-1][1]:
            start, end, members = merged[-1]
            merged[-1] = (start, max(end, hi), [*members, (index, (lo, hi))])
        else:
            merged.append((lo, hi, [(index, (lo, hi))]))
    return merged


def _merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(lo, hi) for lo, hi, _ in _merge_windows(spans)]


def _rgb(frame: VideoFrame, reformatter: VideoReformatter, max_side: int | None, rotation: int) -> np.ndarray:
    width, height = frame.width, frame.height
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    pixels = reformatter.reformat(
        frame, width=width, height=height, format="rgb24", interpolation=Interpolation.AREA
    ).to_ndarray()
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, k=-turns)) if turns else pixels


# --------------------------------------------------------------------------------------- pass 1


@dataclass
class _Scan:
    """What the first pass measured, one entry per decoded frame (a "sample")."""

    fps: float
    skip: Skip  # what the decoder skipped
    duration: float
    width: int
    height: int
    times: np.ndarray  # seconds
    luma: np.ndarray  # mean luma, 0-1
    chroma: np.ndarray  # (n, 2): mean U and V, 0-1
    spread: np.ndarray  # standard deviation of the luma, 0-1
    flat: np.ndarray  # bool: black, or one flat colour
    step: np.ndarray  # change from the previous sample (0 for the first)
    back: np.ndarray  # (n, LAGS): change from the sample 2, 3, ... back (inf where too far in time)
    mix: np.ndarray  # (n, scales): dissolve strength centred here (0 where it is none)
    sharp_samples: np.ndarray  # the samples whose sharpness was measured (every SHARPNESS_EVERY_S)
    sharp_times: np.ndarray  # ... their times
    sharpness: np.ndarray  # ... and their sharpness
    sync_times: list[float] = field(default_factory=list)

    def frame(self, seconds: float) -> int:
        return round(seconds * self.fps)


LAGS = 12  # a transient is looked for this many samples back at most


def _scan(path: Path, config: ShotConfig, skip: Skip | None = None) -> _Scan:
    with _open(path) as (container, stream):
        info = _StreamInfo.of(stream, skip)
        stream.codec_context.options = {"skip_loop_filter": "all"}
        analysis = _Analysis(config)
        sharp = VideoReformatter()
        small = _Shrinker()
        sharpness: list[tuple[int, float]] = []
        sync: list[float] = []
        next_sharp = 0.0
        size = (0, 0)
        last = 0.0
        for seconds, frame in _decode(container, stream, info, sync=sync):
            size, last = (frame.width, frame.height), seconds
            yuv = small(frame)
            if seconds >= next_sharp:
                gray = sharp.reformat(
                    frame, width=SHARP_W, height=SHARP_H, format="gray", interpolation=Interpolation.AREA
                ).to_ndarray()
                sharpness.append((analysis.count, float(cv2.Laplacian(gray, cv2.CV_32F).var())))
                next_sharp = seconds + SHARPNESS_EVERY_S
            analysis.add(seconds, yuv)
        if analysis.count == 0:
            raise NoVideoFrames("no frame of the video could be decoded")
        duration = max(info.duration or 0.0, last + 1 / info.fps)
        return analysis.finish(info, duration, size, sharpness, sync)


# --------------------------------------------------------------------------------------- features


class _Shrinker:
    """A frame as the analysis sees it: 64x36 luma averaged over areas by swscale, then 32x18 U and
    V, one flat uint8 row (Y, U, V). Chroma is smooth, so for 4:2:0 frames it is sampled straight
    from the planes: that and asking swscale for grey only costs half of a 64x36 YUV conversion."""

    def __init__(self) -> None:
        self.luma = VideoReformatter()
        self.colour = VideoReformatter()
        self.points: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, frame: VideoFrame) -> np.ndarray:
        luma = self.luma.reformat(  # "full range in" keeps the luma codes: grey would stretch them
            frame, width=SMALL_W, height=SMALL_H, format="gray", interpolation=Interpolation.AREA, src_color_range=FULL
        ).to_ndarray()
        if frame.format.name in ("yuv420p", "yuvj420p"):
            chroma = [self._sample(frame.planes[index]) for index in (1, 2)]
        else:
            yuv = self.colour.reformat(
                frame, width=SMALL_W, height=SMALL_H, format="yuv420p", interpolation=Interpolation.AREA
            ).to_ndarray()
            chroma = list(yuv[SMALL_H:].reshape(2, -1))
        return np.concatenate([luma.reshape(-1), *(plane.reshape(-1) for plane in chroma)])

    def _sample(self, plane: Any) -> np.ndarray:
        """The plane's pixels at the centres of a 32x18 grid."""
        key = (plane.width, plane.height)
        if key not in self.points:
            rows = ((np.arange(SMALL_H // 2) + 0.5) * plane.height / (SMALL_H // 2)).astype(np.intp)
            cols = ((np.arange(SMALL_W // 2) + 0.5) * plane.width / (SMALL_W // 2)).astype(np.intp)
            self.points[key] = (rows[:, None], cols[None, :])
        pixels = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows, cols = self.points[key]
        return pixels[rows, cols]


HIST_BINS = ((0, Y_PIXELS, 32), (Y_PIXELS, Y_PIXELS * 5 // 4, 16), (Y_PIXELS * 5 // 4, Y_PIXELS * 3 // 2, 16))
# Y counts half, U and V a quarter each; the halving turns an L1 distance (0-2) into 0-1.
HIST_WEIGHTS = np.concatenate([np.full(32, 0.5 / 2), np.full(16, 0.25 / 2), np.full(16, 0.25 / 2)]).astype(np.float32)


def _histograms(frames: np.ndarray) -> np.ndarray:
    """Per small YUV frame (a row): 32-bin Y, 16-bin U and V histograms, each summing to 1."""
    rows = len(frames)
    parts = []
    for lo, hi, bins in HIST_BINS:
        shift = 8 - int(math.log2(bins))
        codes = (frames[:, lo:hi] >> shift).astype(np.intp) + bins * np.arange(rows)[:, None]
        parts.append(np.bincount(codes.ravel(), minlength=bins * rows).reshape(rows, bins) / (hi - lo))
    return np.hstack(parts).astype(np.float32)


def _flatness(hists: np.ndarray) -> np.ndarray:
    """Per frame, the least of: the share of its luma in the fullest 3 neighbouring bins (24 levels)
    and of each chroma plane in its fullest 2 (32 levels). Near 1 for a flat card of any colour,
    noise and a little text on it included; a picture spreads over more."""
    y, u, v = hists[:, :32], hists[:, 32:48], hists[:, 48:]
    bands = [y[:, :-2] + y[:, 1:-1] + y[:, 2:], u[:, :-1] + u[:, 1:], v[:, :-1] + v[:, 1:]]
    return np.minimum.reduce([band.max(axis=1) for band in bands])


def _without_held_cards(times: np.ndarray, flat: np.ndarray, luma: np.ndarray, config: ShotConfig) -> np.ndarray:
    """``flat`` without the runs that are held cards: not black and on screen for ``card_shot_s`` or
    more. A white or coloured card held that long is a title, a slide or an end card, whose text is
    what OCR is for: it is a shot of its own, with a keyframe, not a fade. Black stays a fade however
    long it lasts (a pause between scenes; a black title's few white letters keep it from being flat)."""
    flat = flat.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        held = times[end - 1] - times[first] >= config.card_shot_s
        if held and luma[first:end].mean() > config.black_luma:
            flat[first:end] = False
    return flat


def _change(frames: np.ndarray, hists: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """How different frames ``i`` and ``j`` are, 0-1: half the weighted histogram distance (robust to
    motion) plus the mean absolute pixel difference (sees a cut between views of similar colours)."""
    hist = (np.abs(hists[i] - hists[j]) * HIST_WEIGHTS).sum(axis=1)
    pixels = np.abs(frames[i].astype(np.int16) - frames[j]).mean(axis=1) / 255
    return 0.5 * hist + pixels


class _Analysis:
    """Features of the sampled frames, computed with numpy a chunk at a time so memory stays
    bounded by the few seconds of small frames the windows need, whatever the video's length."""

    def __init__(self, config: ShotConfig) -> None:
        self.config = config
        self.scales = np.asarray(config.dissolve_scales_s, dtype=np.float64)
        self.count = 0
        self._new_times: list[float] = []
        self._new_frames: list[np.ndarray] = []
        self._times = np.empty(0)
        self._frames = np.empty((0, Y_PIXELS * 3 // 2), np.uint8)
        self._hists = np.empty((0, HIST_WEIGHTS.size), np.float32)
        self._contrast = np.empty(0, np.float32)  # standard deviation of the luma
        self._base = 0  # sample number of row 0 of the history
        self._mixed = 0  # sample number of the first sample whose dissolve measure is pending
        self._out: dict[str, list[np.ndarray]] = {
            name: [] for name in ("times", "luma", "chroma", "spread", "flat", "step", "back", "mix")
        }

    def add(self, seconds: float, yuv: np.ndarray) -> None:
        self._new_times.append(seconds)
        self._new_frames.append(yuv)
        self.count += 1
        if len(self._new_times) >= CHUNK:
            self._process(final=False)

    def finish(
        self,
        info: _StreamInfo,
        duration: float,
        size: tuple[int, int],
        sharpness: list[tuple[int, float]],
        sync: list[float],
    ) -> _Scan:
        self._process(final=True)
        out = {name: np.concatenate(parts) for name, parts in self._out.items()}
        out["flat"] = _without_held_cards(out["times"], out["flat"], out["luma"], self.config)
        samples, values = (np.asarray(column) for column in zip(*sharpness, strict=True))
        return _Scan(
            fps=info.fps,
            skip=info.skip,
            duration=duration,
            width=size[0],
            height=size[1],
            sharp_samples=samples.astype(int),
            sharp_times=out["times"][samples.astype(int)],
            sharpness=values.astype(float),
            sync_times=sync,
            **out,
        )

    def _process(self, *, final: bool) -> None:
        if self._new_times:
            fresh = np.stack(self._new_frames)
            first = len(self._times)
            floor = self._times[-1:] if len(self._times) else np.asarray([-np.inf])
            times = np.maximum.accumulate(np.concatenate([floor, self._new_times]))[1:]  # never backwards
            self._times = np.concatenate([self._times, times])
            self._frames = np.concatenate([self._frames, fresh])
            self._hists = np.concatenate([self._hists, _histograms(fresh)])
            self._contrast = np.concatenate([self._contrast, fresh[:, :Y_PIXELS].std(axis=1, dtype=np.float32)])
            self._new_times, self._new_frames = [], []
            self._local(first)
        self._dissolves(final)
        self._trim()

    def _local(self, first: int) -> None:
        """Features of rows ``first`` on that look only back: colour and flatness, the change from the
        previous sample and from the few before it."""
        rows = np.arange(first, len(self._times))
        luma = self._frames[rows, :Y_PIXELS]
        self._out["times"].append(self._times[rows])
        self._out["luma"].append(np.clip((luma.mean(axis=1) - 16) / 219, 0, 1))
        self._out["chroma"].append(self._frames[rows, Y_PIXELS:].reshape(rows.size, 2, -1).mean(axis=2) / 255)
        self._out["spread"].append(self._contrast[rows] / 219)
        dark = 16 + 219 * self.config.black_luma
        black = (luma <= dark).mean(axis=1) >= self.config.black_share
        self._out["flat"].append(black | (_flatness(self._hists[rows]) >= self.config.flat_share))
        back = np.full((rows.size, LAGS + 1), np.inf, np.float32)
        for lag in range(1, LAGS + 2):
            earlier = rows - lag
            ok = earlier >= 0
            if lag > 1:
                ok &= self._times[rows] - self._times[np.maximum(earlier, 0)] <= self.config.transient_s
            if ok.any():
                back[ok, lag - 1] = _change(self._frames, self._hists, earlier[ok], rows[ok])
        step = back[:, 0].copy()
        step[~np.isfinite(step)] = 0.0
        self._out["step"].append(step)
        self._out["back"].append(back[:, 1:])

    def _dissolves(self, final: bool) -> None:
        """For every sample whose future is in hand, at each half-length ``w``: how strongly the
        frames at ``t - w`` and ``t + w`` differ, where the frame at ``t`` is their mix (0 where not)."""
        times = self._times
        reach = times[-1] if final else times[-1] - self.scales[-1]
        stop = int(np.searchsorted(times, reach, side="right")) if len(times) else 0
        centres = np.arange(self._mixed - self._base, stop)
        strength = np.zeros((centres.size, self.scales.size), np.float32)
        for column, half in enumerate(self.scales):
            a, ok_a = _nearest(times, times[centres] - half, half / 2)
            b, ok_b = _nearest(times, times[centres] + half, half / 2)
            ok = ok_a & ok_b & (a < centres) & (centres < b)
            if ok.any():
                strength[ok, column] = self._mix_strength(a[ok], centres[ok], b[ok])
        self._out["mix"].append(strength)
        self._mixed = self._base + stop

    def _mix_strength(self, a: np.ndarray, c: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The change from ``a`` to ``b`` where ``c`` looks like their mix: close to their average,
        well away from both, and flatter than either (averaging two pictures lowers the contrast;
        a camera move, which can also look like an average, does not)."""
        config = self.config
        change = _change(self._frames, self._hists, a, b)
        strength = np.zeros(a.size, np.float32)
        large = np.flatnonzero(change >= config.dissolve_min)
        if large.size:
            a, c, b = a[large], c[large], b[large]
            fa, fc, fb = (self._frames[index].astype(np.int16) for index in (a, c, b))
            ends = np.abs(fa - fb).mean(axis=1)
            mix_error = np.abs(2 * fc - fa - fb).mean(axis=1) / 2
            between = np.minimum(np.abs(fa - fc).mean(axis=1), np.abs(fc - fb).mean(axis=1))
            contrast = self._contrast
            is_mix = (
                (mix_error <= config.dissolve_mix * ends)
                & (between >= 0.25 * ends)
                & (contrast[c] <= config.dissolve_contrast * (contrast[a] + contrast[b]) / 2)
            )
            strength[large[is_mix]] = change[large[is_mix]]
        return strength

    def _trim(self) -> None:
        """Keep only the history the next chunk's windows reach back to."""
        if not len(self._times):
            return
        pending = self._mixed - self._base
        earliest = self._times[min(pending, len(self._times) - 1)] - self.scales[-1] - 1.0
        keep_from = min(int(np.searchsorted(self._times, earliest)), pending, len(self._times) - LAGS - 2)
        if keep_from > 0:
            self._times = self._times[keep_from:]
            self._frames = self._frames[keep_from:]
            self._hists = self._hists[keep_from:]
            self._contrast = self._contrast[keep_from:]
            self._base += keep_from


def _nearest(times: np.ndarray, targets: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the sample nearest each target time, and whether it is within ``tolerance``."""
    right = np.clip(np.searchsorted(times, targets), 0, len(times) - 1)
    left = np.maximum(right - 1, 0)
    index = np.where(np.abs(times[left] - targets) <= np.abs(times[right] - targets), left, right)
    return index, np.abs(times[index] - targets) <= tolerance


# --------------------------------------------------------------------------------------- decisions


@dataclass
class _Boundary:
    """Where a new shot starts: ``frame`` is its first frame, ``span`` the seconds of the transition."""

    kind: str
    frame: int
    span: tuple[float, float]
    strength: float
    gap: tuple[int, int] | None = None  # a cut: the samples it lies between


def _boundaries(scan: _Scan, config: ShotConfig) -> tuple[list[_Boundary], list[tuple[float, float]]]:
    """The boundaries, and the transients found on the way (seconds: no keyframe there). Nothing
    that reaches into a flat card at the very start or end is a boundary: that is a fade in or out."""
    cuts, transients = _cuts(scan, config)
    gradual = _gradual(scan, transients, config)
    cuts = [cut for cut in cuts if not any(_overlaps(cut.span, g.span, config.edge_s) for g in gradual)]
    start, end = _picture_span(scan)
    inside = [b for b in gradual + cuts if start <= b.span[0] and b.span[1] <= end]
    return _spaced(sorted(inside, key=lambda b: b.frame), scan, config), transients


def _overlaps(a: tuple[float, float], b: tuple[float, float], slack: float) -> bool:
    return a[0] <= b[1] + slack and b[0] <= a[1] + slack


def _spaced(boundaries: list[_Boundary], scan: _Scan, config: ShotConfig) -> list[_Boundary]:
    """No two boundaries closer than ``min_shot_s``: of two, the stronger stays."""
    kept: list[_Boundary] = []
    for boundary in boundaries:
        if kept and (boundary.frame - kept[-1].frame) < config.min_shot_s * scan.fps:
            if boundary.strength > kept[-1].strength:
                kept[-1] = boundary
            continue
        kept.append(boundary)
    return kept


def _cuts(scan: _Scan, config: ShotConfig) -> tuple[list[_Boundary], list[tuple[float, float]]]:
    """Steps that stand out against the rolling median of the steps on both sides and are not
    transients (the frames before and after them match); and the transients, in seconds."""
    step, times = scan.step, scan.times
    found, transients = [], []
    for k in map(int, np.flatnonzero(step >= config.cut_min)):
        if k == 0:
            continue
        left = step[np.searchsorted(times, times[k] - config.context_s) : k]
        right = step[k + 1 : np.searchsorted(times, times[k] + config.context_s, side="right")]
        base = max(float(np.median(left)) if left.size else 0.0, float(np.median(right)) if right.size else 0.0)
        if step[k] < config.cut_ratio * base + config.cut_margin:
            continue
        transient = _transient(scan, k, config)
        if transient is not None:
            transients.append((float(times[transient[0]]), float(times[transient[1]])))
            continue
        before, after = scan.frame(times[k - 1]), scan.frame(times[k])
        span = (float(times[k - 1]), float(times[k]))
        found.append(_Boundary("cut", before + (after - before + 1) // 2, span, float(step[k]), (k - 1, k)))
    return found, transients


def _transient(scan: _Scan, k: int, config: ShotConfig) -> tuple[int, int] | None:
    """Samples before and after the step at ``k`` that match, within ``transient_s``: the picture
    came back, so the step was a flash or something passing by. None when there are none."""
    limit = config.transient_match * scan.step[k]
    for i in range(max(0, k - 1 - LAGS), k):
        for j in range(k, min(len(scan.step), i + LAGS + 2)):
            if j - i >= 2 and scan.back[j, j - i - 2] <= limit:
                return i, j
    return None


def _gradual(scan: _Scan, transients: list[tuple[float, float]], config: ShotConfig) -> list[_Boundary]:
    """Dissolves (the strongest mix measure first, one per stretch) and runs of flat frames between
    two shots, merged where they touch; a merged stretch with a flat frame in it is a fade."""
    spans = _flat_spans(scan, transients) + _dissolve_spans(scan, config)
    spans.sort()
    merged: list[list[float]] = []
    for lo, hi, strength in spans:
        if merged and lo <= merged[-1][1] + config.edge_s:
            merged[-1][1] = max(merged[-1][1], hi)
            merged[-1][2] = max(merged[-1][2], strength)
        else:
            merged.append([lo, hi, strength])
    found = []
    for lo, hi, strength in merged:
        inside = (scan.times >= lo) & (scan.times <= hi)
        kind = "fade" if scan.flat[inside].any() or scan.luma[inside].min(initial=1.0) < 0.03 else "dissolve"
        found.append(_Boundary(kind, scan.frame((lo + hi) / 2), (lo, hi), strength))
    return found


def _dissolve_spans(scan: _Scan, config: ShotConfig) -> list[tuple[float, float, float]]:
    strength = scan.mix.max(axis=1)
    spans: list[tuple[float, float, float]] = []
    for c in np.argsort(-strength, kind="stable"):
        if strength[c] <= 0:
            break
        row = scan.mix[c]
        half = config.dissolve_scales_s[int(np.argmax(row >= 0.9 * row.max()))]
        lo, hi = scan.times[c] - half, scan.times[c] + half
        if not any(_overlaps((lo, hi), (a, b), 0.0) for a, b, _ in spans):
            spans.append((lo, hi, float(strength[c])))
    return spans


def _flat_runs(scan: _Scan) -> list[tuple[int, int, int, int]]:
    """Runs of flat samples, each widened over the fade out before it and the fade in after it (while
    the frames keep nearing the run's card, and leaving it after, for at most 2 s): first and last
    sample widened, and first and end (exclusive) of the flat ones."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], scan.flat.astype(np.int8), [0]])))
    last = len(scan.times) - 1
    runs = []
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        first, end = int(first), int(end)
        reach = (  # the samples the widening can look at
            int(np.searchsorted(scan.times, scan.times[first] - 2, side="right")),
            int(np.searchsorted(scan.times, scan.times[end - 1] + 2)),
        )
        away = _from_card(scan, (first, end), reach)
        lo, hi = first, end - 1
        while lo > 0 and scan.times[first] - scan.times[lo - 1] < 2 and away[lo - 1] > away[lo] + 0.005:
            lo -= 1
        while hi < last and scan.times[hi + 1] - scan.times[end - 1] < 2 and away[hi + 1] > away[hi] + 0.005:
            hi += 1
        runs.append((lo, hi, first, end))
    return runs


def _from_card(scan: _Scan, run: tuple[int, int], reach: tuple[int, int]) -> dict[int, float]:
    """How far each sample within ``reach`` is from the card of the flat samples ``run``: the
    distance of its mean colour from the card's plus its contrast (0-1 scales). A fade to the card
    shrinks both in step; the contrast alone tells a fade to a grey card from a picture of the same
    mean grey."""
    (first, end), (start, stop) = run, reach
    card = np.concatenate([[scan.luma[first:end].mean()], scan.chroma[first:end].mean(axis=0)])
    colour = np.column_stack([scan.luma[start:stop], scan.chroma[start:stop]])
    away = np.abs(colour - card).sum(axis=1) + scan.spread[start:stop]
    return dict(zip(range(start, stop), away.tolist(), strict=True))


def _flat_spans(scan: _Scan, transients: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Fades: flat runs with a picture on both sides. A run at the very start or end is none, nor
    is one inside a transient (a flash whitens a few frames of one shot)."""
    spans = []
    last = len(scan.times)
    for lo, hi, first, end in _flat_runs(scan):
        flat = (float(scan.times[first]), float(scan.times[end - 1]))
        if first == 0 or end == last or any(a < flat[0] and flat[1] < b for a, b in transients):
            continue
        spans.append((float(scan.times[lo]), float(scan.times[hi]), 1.0))
    return spans


def _picture_span(scan: _Scan) -> tuple[float, float]:
    """From the end of an opening fade in from a flat card (black, white, ...) to the start of a
    closing fade out to one: no keyframe is taken outside this."""
    runs = _flat_runs(scan)
    start = float(scan.times[runs[0][1]]) if runs and scan.flat[0] else 0.0
    end = float(scan.times[runs[-1][0]]) if runs and scan.flat[-1] else scan.duration
    return start, end


# --------------------------------------------------------------------------------------- pass 2


def _refine_cuts(path: Path, scan: _Scan, boundaries: list[_Boundary]) -> int:
    """Decode every frame between the two samples of each cut that are more than one frame apart,
    and move the cut to where the change between neighbouring frames is largest. Returns how many
    frames that decoded."""
    loose = [(b, b.gap) for b in boundaries if b.kind == "cut" and b.gap and _gap_frames(scan, b.gap) > 1]
    if not loose:
        return 0
    windows = [(float(scan.times[before]), float(scan.times[after])) for _, (before, after) in loose]
    frames: dict[int, list[tuple[float, np.ndarray]]] = {index: [] for index in range(len(windows))}
    with _open(path) as (container, stream):
        info = _StreamInfo.of(stream, scan.skip)
        reader = _WindowReader(container, stream, info, windows, scan.sync_times, margin=0.0, deblock=False)
        small = _Shrinker()
        for index, seconds, frame in reader.frames():
            frames[index].append((seconds, small(frame)))
    for index, (boundary, _) in enumerate(loose):
        run = frames[index]
        if len(run) >= 2:
            stack = np.stack([pixels for _, pixels in run])
            rows = np.arange(1, len(run))
            jump = int(np.argmax(_change(stack, _histograms(stack), rows - 1, rows))) + 1
            boundary.frame = scan.frame(run[jump][0])
    return reader.decoded


def _gap_frames(scan: _Scan, gap: tuple[int, int]) -> int:
    return scan.frame(scan.times[gap[1]]) - scan.frame(scan.times[gap[0]])


# --------------------------------------------------------------------------------------- shots


def _shots(
    scan: _Scan, boundaries: list[_Boundary], transients: list[tuple[float, float]], config: ShotConfig
) -> list[Shot]:
    total = max(1, round(scan.duration * scan.fps))
    inside = [b for b in boundaries if 0 < b.frame < total]
    starts = [0] + [b.frame for b in inside]
    kinds = ["start"] + [b.kind for b in inside]
    spans = [(0.0, 0.0)] + [b.span for b in inside]
    picture = _picture_span(scan)
    clear = _clear_candidates(scan, transients)
    shots = []
    for index, (first, kind) in enumerate(zip(starts, kinds, strict=True)):
        end = starts[index + 1] if index + 1 < len(starts) else total
        usable = (
            (spans[index][1] if index else picture[0]) + config.edge_s,
            (spans[index + 1][0] if index + 1 < len(spans) else picture[1]) - config.edge_s,
        )
        times = _keyframes(scan, (first / scan.fps, end / scan.fps), usable, clear, config)
        shots.append(Shot(first / scan.fps, end / scan.fps, first, end, kind, times[0], tuple(times[1:])))
    return shots


def _keyframes(
    scan: _Scan,
    shot: tuple[float, float],
    usable: tuple[float, float],
    clear: np.ndarray,
    config: ShotConfig,
) -> list[float]:
    """One keyframe per ``long_shot_s`` of the shot, from a few candidate frames that are not flat
    (black, white, a card) and keep clear of transitions and flashes. Without any, the sample nearest the middle."""
    parts = max(1, math.ceil((shot[1] - shot[0]) / config.long_shot_s - 1e-9))
    chosen = []
    for lo, hi in pairwise(np.linspace(shot[0], shot[1], parts + 1)):
        lo, hi = max(lo, usable[0]), min(hi, usable[1])
        first, end = (
            int(np.searchsorted(scan.sharp_times, lo)),
            int(np.searchsorted(scan.sharp_times, hi, side="right")),
        )
        pool = [index for index in range(first, end) if clear[index]]
        if len(pool) > config.keyframe_candidates:
            picks = np.linspace(0, len(pool) - 1, config.keyframe_candidates).round().astype(int)
            pool = [pool[i] for i in picks]
        if pool:
            chosen.append(_pick(scan, pool, (lo + hi) / 2, config))
    if not chosen:
        middle = sum(shot) / 2
        inside = np.flatnonzero((scan.times >= shot[0]) & (scan.times < shot[1]) & ~scan.flat)
        pool_all = inside if inside.size else np.arange(len(scan.times))
        chosen.append(round(float(scan.times[pool_all[np.argmin(np.abs(scan.times[pool_all] - middle))]]), 6))
    return chosen


def _clear_candidates(scan: _Scan, transients: list[tuple[float, float]]) -> np.ndarray:
    """Which keyframe candidates (``scan.sharpness``) are neither flat nor inside a transient."""
    clear = ~scan.flat[scan.sharp_samples]
    for start, end in transients:
        clear[np.searchsorted(scan.sharp_times, start, side="right") : np.searchsorted(scan.sharp_times, end)] = False
    return clear


def _pick(scan: _Scan, pool: list[int], middle: float, config: ShotConfig) -> float:
    """Of the candidates (indexes into ``scan.sharpness``) nearly as sharp as the sharpest, the
    cheapest to read back: the nearest after a random-access point (reading a frame decodes from
    there), then the nearest the middle."""
    best = max(scan.sharpness[index] for index in pool)
    sharp = [index for index in pool if scan.sharpness[index] >= config.keyframe_sharpness * best]

    def cost(index: int) -> tuple[float, float]:
        t = float(scan.sharp_times[index])
        sync = bisect_right(scan.sync_times, t + 1e-6) - 1
        return (t - scan.sync_times[sync] if sync >= 0 else t), abs(t - middle)

    return round(float(scan.sharp_times[min(sharp, key=cost)]), 6)
