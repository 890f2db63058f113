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


class NoAudioStream(Exception):
    """The file has no audio stream to decode."""


class UndecodableAudio(PermanentError):
    """Not one packet of the audio stream decodes: the stream is corrupt or not what it claims."""


def iter_audio(path: Path, sample_rate: int = 16000, chunk_seconds: float = 30.0) -> Iterator[npt.NDArray[np.float32]]:
    """The first audio stream of ``path`` as consecutive mono float32 chunks of ``chunk_seconds``
    (the last one shorter), so a long file is processed without holding all of its samples.

    Chunk ``i`` starts at sample ``i * round(chunk_seconds * sample_rate)``. Packets that fail to
    decode are skipped (and counted in a warning), so a file damaged part way still gives the audio
    around the damage; a stream of which no packet decodes raises :class:`UndecodableAudio`.
    """
    size = max(1, round(chunk_seconds * sample_rate))
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise NoAudioStream(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pending: list[npt.NDArray[np.float32]] = []
        held = 0

        def frames() -> Iterator[av.AudioFrame]:
            good, bad, first_error = 0, 0, ""
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:  # damaged data (FFmpeg reports it as EINVAL, EPERM, ...)
                    bad, first_error = bad + 1, first_error or f"{type(exc).__name__}: {exc}"
                    continue
                good += 1
                for frame in decoded:
                    yield from resampler.resample(frame)
            yield from resampler.resample(None)
            if bad and not good:
                raise UndecodableAudio(f"the audio stream is corrupt: none of its {bad} packets decode ({first_error})")
            if bad:
                log.warning("%s: skipped %d of %d audio packets that do not decode (%s)", path, bad, bad + good,
                            first_error)  # fmt: skip

        for out in frames():
            pending.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
            held += pending[-1].size
            while held >= size:
                joined = np.concatenate(pending)
                yield np.ascontiguousarray(joined[:size])
                rest = joined[size:]
                pending = [rest] if rest.size else []
                held = rest.size
        if held:
            yield np.ascontiguousarray(np.concatenate(pending))


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
