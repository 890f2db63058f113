"""Speech to text, cheap first, window by window: Whisper tiny.en tries each window of speech, and
the multilingual base model takes the windows tiny.en is unsure of, in the language it identifies.

:class:`SpeechRouter` sends a file's first window of speech to tiny.en. When tiny.en is sure of it
(average log-probability at least ``speech_escalate_logprob``, and no repetition loop), the window
stays on tiny.en and nobody asks which language it is: that is most English files, and they no longer
pay for language identification or for loading base. Otherwise base identifies the language (one
encoder pass plus one decoder step) and transcribes the window in it, English included: on English
that tiny.en finds hard (noisy, fast, odd voices) base is the more accurate of the two
(docs/inference.md, "Speech routing"). Identifying the language from a tiny.en transcript instead
(lingua) does not work: tiny.en turns German into English-sounding words. When base is unsure of the
language (under ``LANGUAGE_SURE``), the window is decoded in each of its likeliest languages and the
decode the model itself finds most probable, loops excluded, is kept (:func:`choose_language`):
otherwise synthetic French comes out as Thai.

Long files are never transcribed whole: the caller gives speech spans (from VAD), they are grouped
into windows of at most ~30 s of speech (Whisper's own context), and each window's samples are
joined and transcribed alone, its word times mapped back onto the file's timeline. While the file
stays on tiny.en, its probes of the next PROBE_AHEAD windows are made in one call (tiny.en decodes
them together, for the same words at less cost), so at most that many windows of audio (about 4 minutes,
15 MB) are held at a time (:func:`mediasift.media.speech_windows.gather_windows` reads them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mediasift.inference import stats
from mediasift.media.speech_windows import Span, Window, gather_windows, plan_windows
from mediasift.models import ModelRef
from mediasift.models.transcripts import Candidate, LanguageChoice, Route, Transcript, TranscriptSegment, Word
from mediasift.models.whisper import CANDIDATE, FULL, MAX_WINDOW_S, PROBE, SAMPLE_RATE, Decoding, Identification, mono

# Whisper's own sign of a repetition loop ("thank you, thank you, ..."): the text's gzip ratio.
LOOP_COMPRESSION_RATIO = 2.4
# The stats counters of base's language identifications and their seconds (each is also counted as
# one call of base).
LANGUAGE_IDENTIFICATIONS = "language_identifications"
LANGUAGE_IDENTIFICATION_SECONDS = "language_identification_seconds"
# Base's identification is taken as it is from this probability up. Under it the language is chosen by
# decoding the window in each of the LANGUAGE_CANDIDATES likeliest languages that have at least
# CANDIDATE_RATIO of the likeliest's probability (and in the window before's language). The ratio keeps
# out the long shots whose decodes win by fluency alone: German at de 0.49 / en 0.09 came out as
# English ("Hoytest has met in Berlin soon.", -0.75 against German's -0.91) without it.
LANGUAGE_SURE = 0.5
LANGUAGE_CANDIDATES = 3
CANDIDATE_RATIO = 0.25
# The router's stats counters of those choices: windows, candidate decodes, and choices that were not
# the identification's likeliest language.
LANGUAGE_CHOICES, CANDIDATE_DECODES, LANGUAGE_OVERRULED = "language_choices", "candidate_decodes", "language_overruled"
# While the windows stay on tiny.en, this many windows ahead are probed in one call (tiny.en decodes
# them together on the CPU: mediasift.models.whisper_batch), about 30 s of audio each.
PROBE_AHEAD = 8


class WhisperTier(Protocol):
    """A Whisper model as the router reaches it (through the inference layer's call stack)."""

    ref: ModelRef

    def transcribe(self, audio: npt.NDArray[np.float32], language: str, decoding: Decoding = FULL) -> Transcript: ...

    def transcribe_many(
        self, windows: Sequence[npt.NDArray[np.float32]], language: str, decoding: Decoding = FULL
    ) -> list[Transcript]:
        """:meth:`transcribe` of each window, in one call to the model (which may decode them together)."""
        ...


class IdentifyingTier(WhisperTier, Protocol):
    """A Whisper model that also identifies languages (base)."""

    def detect_language(self, audio: npt.NDArray[np.float32]) -> Identification: ...


def is_sure(identified: Identification) -> bool:
    return identified.probability >= LANGUAGE_SURE


def candidates(identified: Identification) -> list[str]:
    """The languages worth a decode when an identification is unsure (see LANGUAGE_SURE)."""
    least = CANDIDATE_RATIO * identified.probability
    return [name for name, p in identified.ranked[:LANGUAGE_CANDIDATES] if p >= least]


# ------------------------------------------------------------------------------------ router

ROUTER_ID = "whisper-tiny.en-then-base"
# Why a file went where it went (Route.reason).
CONFIDENT = "tiny.en sure"  # stays on tiny.en, its language never identified
ENGLISH_HARD = "English, tiny.en unsure"  # base says English: base, in English
NOT_ENGLISH = "not English"  # base says another language: base, in that language
# The verdicts on tiny.en's probe (Route.probe).
SURE, LOW_LOGPROB, LOOP, NO_WORDS = "sure", "low log-probability", "repetition loop", "no words"
NOT_TRIED = "not tried"  # after a window of base's, this one was identified as not English: no probe
OK = "ok"  # a candidate language's decode that is a transcript (Candidate.verdict)


def mean_logprob(segments: Sequence[TranscriptSegment]) -> float | None:
    """The duration-weighted average log-probability of the segments that have text (None when
    none has). Segments of one decode share their decode's value, so this is per decode."""
    spoken = [(max(s.end - s.start, 0.01), s.avg_logprob) for s in segments if s.text]
    if not spoken:
        return None
    return sum(d * lp for d, lp in spoken) / sum(d for d, _ in spoken)


def probe_verdict(probe: Transcript, threshold: float) -> str:
    """Whether tiny.en's probe of a window is good enough to keep (SURE) and, if not, why not."""
    logprob = mean_logprob(probe.segments)
    if logprob is None:
        return NO_WORDS
    if any(s.compression_ratio > LOOP_COMPRESSION_RATIO for s in probe.segments):
        return LOOP
    return SURE if logprob >= threshold else LOW_LOGPROB


def decode_failure(decode: Transcript) -> str | None:
    """Why a decode is no transcript (NO_WORDS, or LOOP: a gzip ratio over 2.4 or a segment cut off at
    the token limit), or None when it is one."""
    if mean_logprob(decode.segments) is None:
        return NO_WORDS
    if any(s.compression_ratio > LOOP_COMPRESSION_RATIO or s.cut_off for s in decode.segments):
        return LOOP
    return None


def choose_language(identified: Identification, decodes: dict[str, Transcript]) -> LanguageChoice:
    """Of a window's decodes in candidate languages, the language of the one the model finds most
    probable (:func:`mean_logprob`), loops and empty decodes left out; the identification's likeliest
    language when none is left. Loops must go: repeating itself is what the model finds most probable
    in a language it cannot make sense of (espeak-ng French decoded as Thai with no token limit, a
    loop, scores -0.14; the French decode -1.05)."""
    candidates = []
    for language, decode in decodes.items():
        failure = decode_failure(decode)
        logprob = mean_logprob(decode.segments)
        candidates.append(Candidate(language, identified.probability_of(language), logprob, failure or OK))
    valid = [(c.logprob, c.language) for c in candidates if c.verdict == OK and c.logprob is not None]
    chosen = max(valid, key=lambda scored: scored[0])[1] if valid else identified.language
    return LanguageChoice(identified.language, identified.probability, chosen, tuple(candidates))


def router_version(english: ModelRef, multilingual: ModelRef, threshold: float) -> str:
    return (
        f"route=4;escalate_below={threshold:g};loop_ratio={LOOP_COMPRESSION_RATIO:g};"
        f"language_sure={LANGUAGE_SURE:g};candidates={LANGUAGE_CANDIDATES};candidate_ratio={CANDIDATE_RATIO:g};"
        f"candidate_tokens_per_s={CANDIDATE.tokens_per_second:g};"
        f"first={english.id}@{english.version};then={multilingual.id}@{multilingual.version}"
    )


class SpeechRouter:
    """Cheap first, window by window. tiny.en tries each window of speech (PROBE: one decode at
    temperature 0); when it is sure (average log-probability >= ``escalate_logprob``, no repetition
    loop) its decode is kept and the language is never identified. Otherwise base identifies the
    window's language and transcribes it in that language (tiny.en's probe is thrown away). When base
    is unsure of the language (its likeliest under ``LANGUAGE_SURE``), the window is decoded in each of
    its ``LANGUAGE_CANDIDATES`` likeliest languages, and the window before's, and the decode the model
    finds most probable is kept (:meth:`in_language`).

    After a window base took, the next one has its language identified by base first (one encoder
    pass): the same language stays on base without a probe, English goes back to tiny.en's test, and
    another language is transcribed in that language. So a file that changes language mid-way (an
    English interview with a German answer) is transcribed in each language, while an all-German
    file pays one identification per extra window and never a wasted tiny.en probe after the first.

    Each decision is counted (``stats.record_route``; language choices as LANGUAGE_CHOICES,
    CANDIDATE_DECODES and LANGUAGE_OVERRULED). The transcript's ``route`` is the first window's, with
    the language choices of all windows; each segment carries its own language and model.
    """

    def __init__(self, english: WhisperTier, multilingual: IdentifyingTier, escalate_logprob: float) -> None:
        self.english = english
        self.multilingual = multilingual
        self.escalate_logprob = escalate_logprob
        self.ref = ModelRef(ROUTER_ID, router_version(english.ref, multilingual.ref, escalate_logprob))

    def transcribe_windows(
        self, items: Iterable[tuple[Window, npt.NDArray[np.float32]]], duration: float
    ) -> Transcript:
        """Transcribe windows of a file that lasts ``duration`` seconds, in file order. The file's
        ``language`` and ``model`` are those of most of its speech."""
        segments: list[TranscriptSegment] = []
        parts: list[Transcript] = []
        by_language: dict[str, float] = {}
        by_model: dict[str, float] = {}
        choices: list[LanguageChoice] = []
        for window, audio, probe in self._probed_ahead(items, parts):
            part = self.route(audio, parts[-1] if parts else None, probe)
            parts.append(part)
            if part.route is not None:
                choices.extend(_choice_in_file(choice, window) for choice in part.route.language_choices)
            seconds = audio.size / SAMPLE_RATE
            if any(seg.text for seg in part.segments):
                by_language[part.language] = by_language.get(part.language, 0.0) + seconds
                by_model[part.model] = by_model.get(part.model, 0.0) + seconds
            segments.extend(
                dataclasses.replace(_to_file_time(seg, window), language=part.language, model=part.model)
                for seg in part.segments
            )
        if not parts:
            return Transcript(language="", segments=[], duration=duration)
        language = max(by_language, key=by_language.__getitem__) if by_language else parts[0].language
        model = max(by_model, key=by_model.__getitem__) if by_model else parts[0].model
        # The probability that language was identified with, in the first window in it (None: never identified).
        probability = next((p.language_probability for p in parts if p.language == language), None)
        route = parts[0].route
        return dataclasses.replace(
            parts[0],
            route=None if route is None else dataclasses.replace(route, language_choices=tuple(choices)),
            language=language,
            model=model,
            language_probability=probability,
            segments=segments,
            duration=duration,
            speech_seconds=sum(p.duration for p in parts),
            languages={name: round(seconds, 3) for name, seconds in by_language.items()},
        )

    def _probed_ahead(
        self, items: Iterable[tuple[Window, npt.NDArray[np.float32]]], parts: Sequence[Transcript]
    ) -> Iterator[tuple[Window, npt.NDArray[np.float32], Transcript | None]]:
        """Each window with tiny.en's probe of it when that was made ahead (None: not yet). The first
        window goes alone (an all-German file wastes no probe on the windows after it); after a
        window that stayed on tiny.en (``parts``: the windows routed so far, filled in by the caller
        between windows), the next PROBE_AHEAD windows are probed in one call. A window whose probe
        was made ahead but turns out not to be English (after one base took) wastes that probe: a
        file that changes language costs at most PROBE_AHEAD - 1 probes a change."""
        source = iter(items)
        while True:
            on_tiny = bool(parts) and parts[-1].route is not None and not parts[-1].route.escalated
            batch = list(islice(source, PROBE_AHEAD if on_tiny else 1))
            if not batch:
                return
            if not on_tiny:
                yield batch[0][0], batch[0][1], None
                continue
            probes = self.english.transcribe_many([audio for _, audio in batch], "en", PROBE)
            for (window, audio), probe in zip(batch, probes, strict=True):
                yield window, audio, probe

    def route(
        self, audio: npt.NDArray[np.float32], previous: Transcript | None = None, probe: Transcript | None = None
    ) -> Transcript:
        """One window's transcript, by the model it goes to, with the route. ``previous`` is the
        window before it in the file: when base took that one, this one's language is identified
        before tiny.en is given a try. ``probe``: tiny.en's probe of the window, when it was made
        ahead."""
        identified: Identification | None = None
        before = previous.language if previous is not None and previous.language else None
        if previous is not None and previous.route is not None and previous.route.escalated:
            identified = self.multilingual.detect_language(audio)
            if identified.language == previous.language:
                stats.record_route(self.ref, self.multilingual.ref, escalated=True)
                part = self.multilingual.transcribe(audio, previous.language)
                route = dataclasses.replace(previous.route, language_choices=())
                return dataclasses.replace(part, language_probability=identified.probability, route=route)
            if identified.language != "en":
                return self._escalate(audio, identified, None, before)
        threshold = self.escalate_logprob
        probe = probe or self.english.transcribe(audio, "en", PROBE)
        verdict, logprob = probe_verdict(probe, threshold), mean_logprob(probe.segments)
        if verdict == SURE:
            stats.record_route(self.ref, self.english.ref, escalated=False)
            route = Route(self.english.ref.id, CONFIDENT, verdict, logprob, threshold, False, language_identified=False)
            return dataclasses.replace(probe, route=route)
        identified = identified or self.multilingual.detect_language(audio)
        return self._escalate(audio, identified, (verdict, logprob), before)

    def _escalate(
        self,
        audio: npt.NDArray[np.float32],
        identified: Identification,
        probe: tuple[str, float | None] | None,
        before: str | None,
    ) -> Transcript:
        """Base transcribes the window in the language it identified (see :meth:`in_language`; ``before``
        is the language of the window before). ``probe`` is tiny.en's verdict and log-probability when
        it was tried (None: the language was known not to be English)."""
        verdict, logprob = probe if probe is not None else (NOT_TRIED, None)
        stats.record_route(self.ref, self.multilingual.ref, escalated=True)
        part, choice = self.in_language(audio, identified, before)
        route = Route(
            self.multilingual.ref.id,
            ENGLISH_HARD if part.language == "en" else NOT_ENGLISH,
            verdict,
            logprob,
            self.escalate_logprob,
            True,
            language_identified=True,
            language_choices=() if choice is None else (choice,),
        )
        return dataclasses.replace(part, language_probability=identified.probability_of(part.language), route=route)

    def in_language(
        self, audio: npt.NDArray[np.float32], identified: Identification, before: str | None = None
    ) -> tuple[Transcript, LanguageChoice | None]:
        """Base's transcript of a window in its ``identified`` language and, when base was unsure of
        it, how the language was chosen instead: the window is decoded (CANDIDATE: temperature 0) in
        each of the candidate languages and in ``before`` (the window before's, if any), and the decode
        :func:`choose_language` picks is kept as it is. Only when every candidate decode failed is the
        window transcribed in the likeliest language as before, fallbacks and all. The winner's
        decode is not decoded again with fallbacks: on 24 unsure espeak-ng windows in 18 languages
        that gave the same text every time, for 85 s more in all."""
        languages = candidates(identified)
        if before is not None and before not in languages:
            languages.append(before)
        if is_sure(identified) or len(languages) < 2:
            return self.multilingual.transcribe(audio, identified.language), None
        decodes = {language: self.multilingual.transcribe(audio, language, CANDIDATE) for language in languages}
        choice = dataclasses.replace(choose_language(identified, decodes), end=audio.size / SAMPLE_RATE)
        stats.record(self.ref, LANGUAGE_CHOICES)
        stats.record(self.ref, CANDIDATE_DECODES, len(decodes))
        if choice.chosen != identified.language:
            stats.record(self.ref, LANGUAGE_OVERRULED)
        kept = decodes[choice.chosen]
        if decode_failure(kept) is None:
            return kept, choice
        return self.multilingual.transcribe(audio, choice.chosen), choice

    def transcribe(self, audio: npt.NDArray[np.float32], spans: Sequence[Span] | None = None) -> Transcript:
        """Transcribe mono 16 kHz samples: only ``spans`` when given (e.g. from VAD), else all of it."""
        samples = mono(audio)
        duration = samples.size / SAMPLE_RATE
        windows = plan_windows([(0.0, duration)] if spans is None else spans, MAX_WINDOW_S)
        return self.transcribe_windows(gather_windows([samples], windows), duration)


def _choice_in_file(choice: LanguageChoice, window: Window) -> LanguageChoice:
    return dataclasses.replace(
        choice, start=window.to_file_time(choice.start), end=window.to_file_time(choice.end, is_end=True)
    )


def _to_file_time(seg: TranscriptSegment, window: Window) -> TranscriptSegment:
    words = [
        Word(w.text, window.to_file_time(w.start), window.to_file_time(w.end, is_end=True), w.probability)
        for w in seg.words
    ]
    words = [Word(w.text, w.start, max(w.start, w.end), w.probability) for w in words]
    start = words[0].start if words else window.to_file_time(seg.start)
    end = words[-1].end if words else window.to_file_time(seg.end, is_end=True)
    return dataclasses.replace(seg, start=start, end=max(start, end), words=words)
