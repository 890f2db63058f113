"""What speech-to-text produces: words with times, segments, a file's transcript, and how its windows
were routed between the models (:mod:`mediasift.inference.speech`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)
    compression_ratio: float = 1.0
    # Set by the router for each window: the language it was decoded in and by which model.
    language: str = ""
    model: str = ""
    # The decoder was stopped at its token limit before it closed this segment (only ever the last one of
    # a decode): a runaway loop, which gzip does not catch on short text ("แน่แน่แน่แน่").
    cut_off: bool = False


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Candidate:
    """One language a window was decoded in: base's identification ``probability`` of it, the decode's
    mean log-probability (None: no words) and ``verdict`` (``"ok"``, ``"repetition loop"``, ``"no words"``)."""

    language: str
    probability: float
    logprob: float | None
    verdict: str

    def as_data(self) -> dict[str, object]:
        return {
            "language": self.language,
            "probability": _rounded(self.probability),
            "logprob": _rounded(self.logprob),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class LanguageChoice:
    """How a window's language was chosen when base's identification was unsure: ``identified`` (at
    ``probability``) was its likeliest language, each of ``candidates`` was decoded, and ``chosen`` is
    the one kept. ``start``/``end``: the window's speech, in seconds of the file."""

    identified: str
    probability: float
    chosen: str
    candidates: tuple[Candidate, ...]
    start: float = 0.0
    end: float = 0.0

    def as_data(self) -> dict[str, object]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "identified": self.identified,
            "probability": _rounded(self.probability),
            "chosen": self.chosen,
            "candidates": [c.as_data() for c in self.candidates],
        }


@dataclass(frozen=True)
class Route:
    """How the router sent a file, decided on its first window of speech: to ``model`` (an id) for
    ``reason``. ``probe`` is the verdict on tiny.en's try at that window ("sure", "low
    log-probability", "repetition loop" or "no words"), ``first_window_logprob`` its average
    log-probability (None when it heard nothing), ``threshold`` the least that keeps a file on tiny.en.
    ``language_choices``: every window of the file whose language was chosen by decoding candidates
    (a window's own route: that window's, if it was)."""

    model: str
    reason: str
    probe: str
    first_window_logprob: float | None
    threshold: float
    escalated: bool
    language_identified: bool
    language_choices: tuple[LanguageChoice, ...] = ()

    def as_data(self) -> dict[str, object]:
        return {
            "model": self.model,
            "reason": self.reason,
            "probe": self.probe,
            "first_window_logprob": _rounded(self.first_window_logprob),
            "threshold": self.threshold,
            "escalated": self.escalated,
            "language_identified": self.language_identified,
            "language_choices": [c.as_data() for c in self.language_choices],
        }


@dataclass(frozen=True)
class Transcript:
    """What was said. ``model`` is the id of the model that transcribed it, ``speech_seconds`` how
    much audio went to it (all of it, unless VAD picked spans). ``language_probability`` is None when
    the language was not identified (tiny.en was sure of its English). ``route`` says how the router
    chose the model (None when a model was called directly)."""

    language: str
    segments: list[TranscriptSegment]
    duration: float
    model: str = ""
    language_probability: float | None = None
    speech_seconds: float = 0.0
    route: Route | None = None
    # Seconds of speech sent to the models per language, counting the windows in which words were heard.
    languages: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


def transcript_from_data(data: dict[str, Any]) -> Transcript:
    """A window's transcript back from its cached form (``dataclasses.asdict`` of it, no route)."""
    segments = [TranscriptSegment(**{**seg, "words": [Word(**w) for w in seg["words"]]}) for seg in data["segments"]]
    return Transcript(**{**data, "segments": segments, "route": None})
