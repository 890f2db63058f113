"""Audio out of any audio or video file, as the mono float32 samples speech models take."""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt


class NoAudioStream(Exception):
    """The file has no audio stream to decode."""


def decode_audio(
    path: Path, sample_rate: int = 16000, max_seconds: float | None = None
) -> npt.NDArray[np.float32]:
    """The first audio stream of ``path``, downmixed to mono float32 in [-1, 1] at ``sample_rate``.

    ``max_seconds`` stops decoding once that much audio is in hand. Packets that fail to decode are
    skipped, so a file damaged part way still gives the audio around the damage.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise NoAudioStream(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        limit = None if max_seconds is None else max(0, round(max_seconds * sample_rate))
        chunks: list[npt.NDArray[np.float32]] = []
        total = 0

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal total
            for out in frames:
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                chunks.append(samples)
                total += samples.size

        done = False
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                take(resampler.resample(frame))
            if limit is not None and total >= limit:
                done = True
                break
        if not done:
            take(resampler.resample(None))

    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if limit is not None:
        audio = audio[:limit]
    return np.ascontiguousarray(audio, dtype=np.float32)
