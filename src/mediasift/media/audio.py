"""Audio out of any audio or video file, as the mono float32 samples speech models take."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt


class NoAudioStream(Exception):
    """The file has no audio stream to decode."""


def iter_audio(path: Path, sample_rate: int = 16000, chunk_seconds: float = 30.0) -> Iterator[npt.NDArray[np.float32]]:
    """The first audio stream of ``path`` as consecutive mono float32 chunks of ``chunk_seconds``
    (the last one shorter), so a long file is processed without holding all of its samples.

    Chunk ``i`` starts at sample ``i * round(chunk_seconds * sample_rate)``. Packets that fail to
    decode are skipped, so a file damaged part way still gives the audio around the damage.
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
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    continue
                for frame in decoded:
                    yield from resampler.resample(frame)
            yield from resampler.resample(None)

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
