"""Pass 1 of shot detection: every frame a fast decode gives, shrunk and measured.

Every decoded frame is shrunk to 64x36 YUV by one shared ``VideoReformatter`` (area averaging); the
features are numpy over chunks of those small frames: colour and flatness, the change from the
samples before, the dissolve measure at a few half-lengths, and, every ``SHARPNESS_EVERY_S``, the
sharpness of a keyframe candidate. The small frames are not stretched to the display aspect: the
features do not depend on the frame's shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange, Interpolation, VideoReformatter

from mediasift.media.shots.config import ShotConfig
from mediasift.media.video import VideoSource

SMALL_W, SMALL_H = 64, 36  # analysis frame; H must be a multiple of 4 for yuv420p
Y_PIXELS = SMALL_W * SMALL_H
SHARP_W, SHARP_H = 160, 90  # sharpness of keyframe candidates is measured at this size
SHARPNESS_EVERY_S = 0.25  # ... on a decoded frame this often
CHUNK = 512  # samples analysed per numpy batch
FULL = ColorRange.JPEG
LAGS = 12  # a transient is looked for this many samples back at most


@dataclass
class Samples:
    """What the first pass measured, one entry per decoded frame (a "sample")."""

    fps: float
    fast: bool  # whether the decoder skipped what a fast decode skips
    duration: float
    width: int  # a whole frame as shown: upright, at display aspect
    height: int
    times: np.ndarray  # seconds
    luma: np.ndarray  # mean luma, 0-1
    chroma: np.ndarray  # (n, 2): mean U and V, 0-1
    spread: np.ndarray  # standard deviation of the luma, 0-1
    flat: np.ndarray  # bool: black, or one flat colour
    step: np.ndarray  # change from the previous sample (0 for the first)
    band: np.ndarray  # the share of that change's pixel difference in its most changed third of the rows
    back: np.ndarray  # (n, LAGS): change from the sample 2, 3, ... back (inf where too far in time)
    mix: np.ndarray  # (n, scales): dissolve strength centred here (0 where it is none)
    sharp_samples: np.ndarray  # the samples whose sharpness was measured (every SHARPNESS_EVERY_S)
    sharp_times: np.ndarray  # ... their times
    sharpness: np.ndarray  # ... and their sharpness
    sync_times: list[float] = field(default_factory=list)  # random-access points

    def frame(self, seconds: float) -> int:
        return round(seconds * self.fps)


def scan(path: Path, config: ShotConfig, *, fast: bool = True) -> Samples:
    """Decode the video once, without deblocking (and, when ``fast``, skipping what a fast decode
    skips), and measure every frame. Raises :class:`~mediasift.media.video.NoVideoFrames`."""
    with VideoSource(path, fast=fast, deblock=False) as video:
        analysis = _Analysis(config)
        sharp = VideoReformatter()
        small = Shrinker()
        sharpness: list[tuple[int, float]] = []
        next_sharp = 0.0
        last = 0.0
        for seconds, frame in video.frames():
            last = seconds
            yuv = small(frame)
            if seconds >= next_sharp:
                gray = sharp.reformat(
                    frame, width=SHARP_W, height=SHARP_H, format="gray", interpolation=Interpolation.AREA
                ).to_ndarray()
                sharpness.append((analysis.count, float(cv2.Laplacian(gray, cv2.CV_32F).var())))
                next_sharp = seconds + SHARPNESS_EVERY_S
            analysis.add(seconds, yuv)
        fps = video.info.fps
        duration = max(video.info.duration or 0.0, last + 1 / fps)
        return analysis.finish(fps, fast, duration, video.display_size, sharpness, video.sync_times)


class Shrinker:
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


def histograms(frames: np.ndarray) -> np.ndarray:
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


def _without_held_cards(
    times: np.ndarray, flat: np.ndarray, luma: np.ndarray, spread: np.ndarray, config: ShotConfig
) -> np.ndarray:
    """``flat`` without the runs that are held cards: on screen for ``card_shot_s`` or more, and not
    black, or black with something on it. A white or coloured card held that long is a title, a slide
    or an end card, whose text is what OCR is for: it is a shot of its own, with a keyframe, not a fade.
    Black stays a fade however long it lasts (a pause between scenes), but a title of a few white
    letters on black leaves nearly every pixel black (97.1% for a 36-px line at 640x360) while its
    spread is the letters' (0.086), where black's is noise (0.00-0.01): the frames of a black run that
    show something (``card_spread``), held that long, are a card, and the black around them a fade."""
    flat = flat.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        if times[end - 1] - times[first] < config.card_shot_s:
            continue
        if luma[first:end].mean() > config.black_luma:
            flat[first:end] = False
            continue
        showing = first + np.flatnonzero(spread[first:end] >= config.card_spread)
        if showing.size and times[showing[-1]] - times[showing[0]] >= config.card_shot_s:
            flat[showing[0] : showing[-1] + 1] = False
    return flat


def frame_change(frames: np.ndarray, hists: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """How different frames ``i`` and ``j`` are, 0-1: half the weighted histogram distance (robust to
    motion) plus the mean absolute pixel difference (sees a cut between views of similar colours)."""
    hist = (np.abs(hists[i] - hists[j]) * HIST_WEIGHTS).sum(axis=1)
    pixels = np.abs(frames[i].astype(np.int16) - frames[j]).mean(axis=1) / 255
    return 0.5 * hist + pixels


BAND_ROWS = SMALL_H // 3


def band_share(frames: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Of the luma difference between frames ``i`` and ``j``, the share in the third of the rows
    (any ``BAND_ROWS`` in a row) that holds most of it: about a third where the whole picture changed
    (a cut: 0.35-0.42 measured), near 1 where only a band did (a caption banner coming up or going
    over moving footage: 0.90-0.92), and 1 where nothing changed."""
    rows = (
        np.abs(frames[i, :Y_PIXELS].astype(np.int16) - frames[j, :Y_PIXELS])
        .reshape(len(i), SMALL_H, SMALL_W)
        .sum(axis=2, dtype=np.float32)
    )
    running = np.concatenate([np.zeros((len(i), 1), np.float32), np.cumsum(rows, axis=1)], axis=1)
    best = (running[:, BAND_ROWS:] - running[:, :-BAND_ROWS]).max(axis=1)
    total = running[:, -1]
    return np.divide(best, total, out=np.ones_like(total), where=total > 0)


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
            name: [] for name in ("times", "luma", "chroma", "spread", "flat", "step", "band", "back", "mix")
        }

    def add(self, seconds: float, yuv: np.ndarray) -> None:
        self._new_times.append(seconds)
        self._new_frames.append(yuv)
        self.count += 1
        if len(self._new_times) >= CHUNK:
            self._process(final=False)

    def finish(
        self,
        fps: float,
        fast: bool,
        duration: float,
        size: tuple[int, int],
        sharpness: list[tuple[int, float]],
        sync: list[float],
    ) -> Samples:
        self._process(final=True)
        out = {name: np.concatenate(parts) for name, parts in self._out.items()}
        out["flat"] = _without_held_cards(out["times"], out["flat"], out["luma"], out["spread"], self.config)
        samples, values = (np.asarray(column) for column in zip(*sharpness, strict=True))
        return Samples(
            fps=fps,
            fast=fast,
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
            self._hists = np.concatenate([self._hists, histograms(fresh)])
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
                back[ok, lag - 1] = frame_change(self._frames, self._hists, earlier[ok], rows[ok])
        step = back[:, 0].copy()
        step[~np.isfinite(step)] = 0.0
        self._out["step"].append(step)
        self._out["band"].append(band_share(self._frames, np.maximum(rows - 1, 0), rows))
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
        change = frame_change(self._frames, self._hists, a, b)
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
