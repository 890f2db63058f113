"""Audio out of any audio or video file, as the mono float32 samples speech models take."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt

from mediasift.errors import PermanentError

log = logging.getLogger(__name__)


# A jump of the stream's times past the samples decoded by more than this is filled with silence: two
# AAC frames (23 ms each at 44.1 kHz), well past any container's rounding of its times.
GAP_FILLED_S = 0.05


class NoAudioStream(Exception):
    """The file has no audio stream to decode."""


class UndecodableAudio(PermanentError):
    """Not one packet of the audio stream decodes: the stream is corrupt or not what it claims."""


def iter_audio(path: Path, sample_rate: int = 16000, chunk_seconds: float = 30.0) -> Iterator[npt.NDArray[np.float32]]:
    """The first audio stream of ``path`` as consecutive mono float32 chunks of ``chunk_seconds``
    (the last one shorter), so a long file is processed without holding all of its samples.

    Chunk ``i`` starts at sample ``i * round(chunk_seconds * sample_rate)``: sample ``n`` is the sound
    at ``n / sample_rate`` seconds after the stream's first. Packets that fail to decode are skipped
    (and counted in a warning), and where the stream's times jump ahead (the skipped packets, or
    packets missing from the file) the gap is filled with silence, so a file damaged part way still
    gives the audio around the damage at its own times; a stream of which no packet decodes raises
    :class:`UndecodableAudio`.
    """
    size = max(1, round(chunk_seconds * sample_rate))
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise NoAudioStream(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pending: list[npt.NDArray[np.float32]] = []
        held = 0

        def samples() -> Iterator[npt.NDArray[np.float32]]:
            good, bad, first_error, filled = 0, 0, "", 0.0
            origin: float | None = None  # the stream's first time
            out = 0  # samples given so far
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:  # damaged data (FFmpeg reports it as EINVAL, EPERM, ...)
                    bad, first_error = bad + 1, first_error or f"{type(exc).__name__}: {exc}"
                    continue
                good += 1
                for frame in decoded:
                    if frame.pts is not None and frame.time_base is not None:
                        at = float(frame.pts * frame.time_base)
                        origin = at if origin is None else origin
                        gap = at - origin - out / sample_rate
                        if gap > GAP_FILLED_S:
                            silence = np.zeros(round(gap * sample_rate), dtype=np.float32)
                            out, filled = out + silence.size, filled + gap
                            yield silence
                    for mono in _mono(resampler.resample(frame)):
                        out += mono.size
                        yield mono
            yield from _mono(resampler.resample(None))
            if bad and not good:
                raise UndecodableAudio(f"the audio stream is corrupt: none of its {bad} packets decode ({first_error})")
            if bad or filled:
                log.warning("%s: skipped %d of %d audio packets that do not decode (%s); %.2f s of gaps filled with "
                            "silence", path, bad, bad + good, first_error or "none failed", filled)  # fmt: skip

        for part in samples():
            pending.append(part)
            held += part.size
            while held >= size:
                joined = np.concatenate(pending)
                yield np.ascontiguousarray(joined[:size])
                rest = joined[size:]
                pending = [rest] if rest.size else []
                held = rest.size
        if held:
            yield np.ascontiguousarray(np.concatenate(pending))


def _mono(frames: list[av.AudioFrame]) -> Iterator[npt.NDArray[np.float32]]:
    """The resampler's (mono float) frames as flat sample arrays."""
    for frame in frames:
        yield frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)


def decode_audio(path: Path, sample_rate: int = 16000, max_seconds: float | None = None) -> npt.NDArray[np.float32]:
    """The first audio stream of ``path``, downmixed to mono float32 in [-1, 1] at ``sample_rate``.

    ``max_seconds`` stops decoding once that much audio is in hand. Packets that fail to decode are
    skipped, so a file damaged part way still gives the audio around the damage.
    """
    limit = None if max_seconds is None else max(0, round(max_seconds * sample_rate))
    chunks: list[npt.NDArray[np.float32]] = []
    total = 0
    chunk_seconds = 10.0 if max_seconds is None else min(10.0, max(max_seconds, 0.1))
    for chunk in iter_audio(path, sample_rate, chunk_seconds):
        chunks.append(chunk)
        total += chunk.size
        if limit is not None and total >= limit:
            break
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if limit is not None:
        audio = audio[:limit]
    return np.ascontiguousarray(audio, dtype=np.float32)
