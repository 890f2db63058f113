"""Windows of speech: a file's speech spans grouped into windows the speech models take whole, and
each window's samples gathered from the file's stream of chunks without holding the file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000

Span = tuple[float, float]


@dataclass(frozen=True)
class Window:
    """Speech spans (seconds in the file) transcribed together, their samples joined end to end."""

    spans: tuple[Span, ...]

    @property
    def speech_seconds(self) -> float:
        return sum(end - start for start, end in self.spans)

    def sample_ranges(self) -> list[tuple[int, int]]:
        return [(round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)) for start, end in self.spans]

    def to_file_time(self, t: float, is_end: bool = False) -> float:
        """Map a time in the joined window audio onto the file's timeline. A time exactly at a joint
        belongs to the span before it when it ends a word, to the span after when it starts one."""
        offset = 0.0
        ranges = self.sample_ranges()
        for index, (first, stop) in enumerate(ranges):
            length = (stop - first) / SAMPLE_RATE
            last = index == len(ranges) - 1
            if t < offset + length or (is_end and t <= offset + length) or last:
                return first / SAMPLE_RATE + min(max(t - offset, 0.0), length)
            offset += length
        return 0.0


def plan_windows(spans: Sequence[Span], max_window_s: float) -> list[Window]:
    """Group consecutive speech spans into windows of at most ``max_window_s`` seconds of speech.

    A span longer than that on its own is cut into equal pieces (VAD can cut at pauses instead:
    ``max_speech_s``); this only happens when spans do not come from VAD.
    """
    pieces: list[Span] = []
    for start, end in spans:
        if end <= start:
            continue
        count = max(1, int(np.ceil((end - start) / max_window_s - 1e-9)))
        step = (end - start) / count
        pieces.extend((start + i * step, start + (i + 1) * step) for i in range(count))
    windows: list[Window] = []
    current: list[Span] = []
    for piece in pieces:
        if current and sum(e - s for s, e in current) + piece[1] - piece[0] > max_window_s + 1e-6:
            windows.append(Window(tuple(current)))
            current = []
        current.append(piece)
    if current:
        windows.append(Window(tuple(current)))
    return windows


def gather_windows(
    chunks: Iterable[npt.NDArray[np.float32]], windows: Sequence[Window]
) -> Iterator[tuple[Window, npt.NDArray[np.float32]]]:
    """Each window with its joined samples, cut from a file's consecutive 16 kHz chunks.

    Chunks are read only when a span needs them, and samples are dropped as soon as no span needs
    them, including the gaps between the spans of one window (sparse speech can make a window's
    spans minutes apart). What is held is one window's speech plus about one chunk.
    """
    source = iter(chunks)
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # file sample index of buffer[0]
    for window in windows:
        pieces = []
        for first, stop in window.sample_ranges():
            while True:
                drop = min(max(0, first - buffer_start), buffer.size)
                buffer, buffer_start = buffer[drop:], buffer_start + drop
                if buffer_start + buffer.size >= stop:
                    break
                chunk = next(source, None)
                if chunk is None:
                    break
                buffer = np.concatenate((buffer, chunk))
            pieces.append(buffer[max(0, first - buffer_start) : max(0, stop - buffer_start)])
        yield window, np.concatenate(pieces)
