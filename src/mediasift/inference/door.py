"""The one door to the models: :class:`Inference`, built from ``Settings``.

Operators, search and ingest ask it for what they need (embed these texts, find the faces in this
picture, transcribe these windows); every such call goes down one stack
(:class:`~mediasift.inference.stack.CallStack`): result cache, micro-batcher, counted call.

Routing (speech, language) and fallback (OCR) sit above that stack and call each of their tiers
through it, so a tier's call is cached, batched and counted like any other. The runtimes themselves
(:mod:`mediasift.models`) know nothing of any of this. Which runtime runs is the catalog's word for
these settings, so lineage names exactly the model that ran.

The result cache is on when ``inference_cache`` is (the default); with a ``store`` (the database's
table) its results are shared by every process. A door without one still counts and batches.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.inference import inventory, stats
from mediasift.inference.batcher import interactive_lane
from mediasift.inference.cache import SharedStore, input_hash, unshared
from mediasift.inference.catalog import Role
from mediasift.inference.fallback import FallbackChain
from mediasift.inference.language import LanguageRouter
from mediasift.inference.ocr import CHAIN, Reading
from mediasift.inference.remote import CAPTION_PROMPT, ChatResult, RemoteClient
from mediasift.inference.speech import LANGUAGE_IDENTIFICATION_SECONDS, LANGUAGE_IDENTIFICATIONS, SpeechRouter
from mediasift.inference.stack import CallStack
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.media.speech_windows import Span, Window
from mediasift.models import ModelRef
from mediasift.models.audio_events import AudioEvent
from mediasift.models.clip import ClipModel
from mediasift.models.face_detector import Face
from mediasift.models.face_embedder import align
from mediasift.models.language import Scored
from mediasift.models.object_detector import Detection
from mediasift.models.ocr import OcrLine
from mediasift.models.transcripts import Transcript, transcript_from_data
from mediasift.models.vad import spans_from_probabilities
from mediasift.models.whisper import FULL, Decoding, Identification, mono

T = TypeVar("T")
R = TypeVar("R")
D = TypeVar("D", Detection, Face)

Pixels = npt.NDArray[np.uint8]
Vectors = npt.NDArray[np.float32]
OcrChain = Callable[[Pixels], Any]  # a FallbackChain[list[OcrLine]]: pixels -> Answer


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentError)


class Inference(CallStack):
    """Every model these settings declare, each task a typed method over the one call stack.
    Thread-safe; one per ``Mediasift``.

    ``about_input`` tells an error about the input (permanent: another model would fail the same
    way) from a failure of the model; the fallback chains use it, and the pipeline gives its own."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: SharedStore | None = None,
        about_input: Callable[[BaseException], bool] = is_permanent,
    ) -> None:
        super().__init__(settings, store)
        self.about_input = about_input

    # -- what there is ---------------------------------------------------------------------------------

    def problems(self) -> dict[str, str]:
        """Declared models whose files are missing, each with the reason and how to fix it."""
        return inventory.problems(self.catalog)

    def listing(self, counters: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
        """Each declared model, its state here, and what every process has ``counters``-ed for it."""
        return inventory.listing(self.catalog, counters)

    # -- text --------------------------------------------------------------------------------------

    @property
    def text_ref(self) -> ModelRef:
        """The text-embedding model of these settings (its tier)."""
        return self.catalog.ref(self.catalog.text_role)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of ``texts`` from the configured tier, (n, dim), rows in input order; each text
        cached by content, concurrent jobs' texts embedded together."""
        vectors: list[Vectors] = self.call(self.catalog.text_role, list(texts), key=input_hash, gather=True)
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(vectors).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> Vectors:
        """A search query's vector, by the same model as the texts it is matched against."""
        with interactive_lane(), unshared():
            return self.embed_texts([text])[0]

    @property
    def multilingual_ref(self) -> ModelRef:
        """The model texts in other languages than English are embedded with, besides the tier."""
        return self.catalog.ref(Role.MULTILINGUAL)

    def embed_multilingual(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of stored ``texts`` (passages) by the multilingual model, (n, 384)."""
        vectors: list[Vectors] = self.call(Role.MULTILINGUAL, list(texts), key=input_hash, gather=True)
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(vectors).astype(np.float32, copy=False)

    def embed_multilingual_query(self, text: str) -> Vectors:
        """A search query's vector by the multilingual model (embedded as a query, not a passage)."""
        with interactive_lane(), unshared():
            found: list[Vectors] = self.call(
                Role.MULTILINGUAL, [text], run=lambda model, texts: list(model.embed(texts, query=True)),
                key=lambda query: input_hash("query", query),
            )  # fmt: skip
        return found[0]

    def language(self, text: str) -> tuple[str, float] | None:
        """The ISO 639-1 code and confidence of ``text``'s language (None: nothing to go on)."""
        return self.language_router.detect(text)

    @cached_property
    def language_router(self) -> LanguageRouter:
        def fast(text: str) -> Scored:
            return self.call(Role.LANGUAGE_FAST, [text])[0]

        def accurate(text: str, candidates: Sequence[Any]) -> tuple[str, float] | None:
            return self.call(Role.LANGUAGE_ACCURATE, [(text, candidates)])[0]

        return LanguageRouter(
            (self.catalog.ref(Role.LANGUAGE_FAST), fast),
            (self.catalog.ref(Role.LANGUAGE_ACCURATE), accurate),
            self.settings.language_fast_min_confidence,
        )

    # -- pictures ------------------------------------------------------------------------------------

    @property
    def features_ref(self) -> ModelRef:
        """The visual feature vectors' model: the image classifier's pooled layer."""
        ref = self.catalog.ref(Role.IMAGE_LABELS)
        return ModelRef(ref.id + "-features", ref.version)

    def labels(self, pixels: Pixels) -> tuple[list[tuple[str, float]], Vectors]:
        """ImageNet labels (likeliest first) and the visual feature vector of a picture."""
        found = self.call(Role.IMAGE_LABELS, [pixels], key=input_hash, stored=_labels_stored, restored=_labels_restored)
        return found[0]

    def objects(self, pixels: Pixels, min_confidence: float) -> list[Detection]:
        """COCO objects at or above ``min_confidence``, most confident first."""
        return self._detect(Role.OBJECTS, Detection, pixels, min_confidence)

    def faces(self, pixels: Pixels, min_confidence: float) -> list[Face]:
        """Faces at or above ``min_confidence``, most confident first."""
        return self._detect(Role.FACES, Face, pixels, min_confidence)

    @property
    def face_vectors_ref(self) -> ModelRef:
        return self.catalog.ref(Role.FACE_EMBEDDINGS)

    def face_vectors(self, pixels: Pixels, faces: Sequence[Face]) -> list[Vectors]:
        """A unit vector per face of a picture, each aligned from its five landmarks first; chips of
        concurrent jobs embedded together, each cached by its pixels."""
        chips = [align(pixels, face.landmarks) for face in faces]
        return self.call(Role.FACE_EMBEDDINGS, chips, key=input_hash, gather=True)

    def _detect(self, role: Role, record: type[D], pixels: Pixels, min_confidence: float) -> list[D]:
        """A detector's records for a picture, cached by the pixels and the confidence floor."""
        found: list[list[D]] = self.call(
            role, [pixels], run=lambda model, batch: model(batch, min_confidence),
            key=lambda p: input_hash(p, str(min_confidence)), stored=_records_stored,
            restored=lambda rows: [record(**row) for row in rows],
        )  # fmt: skip
        return found[0]

    def read_text(self, pixels: Pixels, chain: OcrChain | None = None) -> Reading:
        """The text lines of a picture and the engine that read them, through the OCR fallback chain
        (``chain`` replaces this door's own, whose readings alone are cached: another chain is
        another model)."""
        if chain is not None:
            answer = chain(pixels)
            return Reading(answer.used.id, answer.value)
        primary = self.catalog.ref(Role.OCR_READER)
        if self.cache is not None:
            key = input_hash(pixels)
            known = self.cache.get_many(primary, [key])
            stats.record_cache(primary, hits=len(known), misses=1 - len(known))
            if known:
                return Reading(primary.id, [OcrLine(**line) for line in known[key]])
        answer = self.ocr_chain(pixels)
        if self.cache is not None and answer.used == primary:
            self.cache.put_many(primary, {key: _records_stored(answer.value)})
        return Reading(answer.used.id, answer.value)

    @cached_property
    def ocr_chain(self) -> FallbackChain[list[OcrLine]]:
        """rapidocr, then tesseract, each given ``ocr_timeout_s`` per picture behind its own breaker."""
        return self.ocr_chain_with(self.read_with_rapidocr, self.read_with_tesseract)

    def ocr_chain_with(
        self, primary: Callable[[Pixels], list[OcrLine]], fallback: Callable[[Pixels], list[OcrLine]]
    ) -> FallbackChain[list[OcrLine]]:
        """The OCR chain of these settings over other readers (a test's broken or hung primary)."""
        s = self.settings
        return FallbackChain(
            CHAIN,
            [(self.catalog.ref(Role.OCR_READER), primary), (self.catalog.ref(Role.TESSERACT), fallback)],
            timeout_s=s.ocr_timeout_s,
            breakers=CircuitBreakers(s.breaker_threshold, s.breaker_cooldown_s),
            about_input=self.about_input,
        )

    def read_with_rapidocr(self, pixels: Pixels) -> list[OcrLine]:
        """rapidocr: detection in the caller's thread (counted on the reader), recognition of the line
        images gathered with those of concurrent pictures (counted on the recogniser)."""
        found = self.counted(Role.OCR_READER, lambda reader: reader.detect(pixels), 1)
        if found.detected is None:
            return []
        readings = self.call(Role.OCR_RECOGNISER, found.line_images, run=_recognise, gather=True)
        reader = self.handle(Role.OCR_READER).get()
        lines: list[OcrLine] = reader.assemble(found, readings)
        return lines

    def read_with_tesseract(self, pixels: Pixels) -> list[OcrLine]:
        found: list[list[OcrLine]] = self.call(Role.TESSERACT, [pixels])
        return found[0]

    def recognise_crops(self, crops: list[Pixels]) -> list[tuple[str, float]]:
        """Text and confidence of line crops (one line each): rapidocr's recogniser alone, each crop
        read as if alone, gathered with concurrent requests."""
        reader = self.handle(Role.OCR_READER).get()
        readings = self.call(Role.OCR_RECOGNISER, reader.crop_line_images(crops), run=_recognise, gather=True)
        return [(text.strip(), score) for text, score in readings]

    # -- sound ---------------------------------------------------------------------------------------

    def speech_probabilities(self, chunks: Iterable[npt.NDArray[np.float32]]) -> tuple[Vectors, float]:
        """Per-frame (32 ms) speech probabilities of a file's consecutive 16 kHz chunks, and its length."""
        result: tuple[Vectors, float] = self.stream(Role.VAD, chunks)
        return result

    def speech_spans(
        self, chunks: Iterable[npt.NDArray[np.float32]], max_speech_s: float | None = None
    ) -> tuple[list[Span], float]:
        """The speech spans (seconds) of a file's consecutive 16 kHz chunks, none longer than
        ``max_speech_s`` (cut at its quietest pause), and the file's length."""
        probs, duration = self.speech_probabilities(chunks)
        return spans_from_probabilities(probs, duration, max_speech_s=max_speech_s), duration

    def audio_events(self, chunks: Iterable[npt.NDArray[np.float32]]) -> tuple[list[AudioEvent], float]:
        """Speech, singing and music events of a file's consecutive 16 kHz chunks, and its length."""
        result: tuple[list[AudioEvent], float] = self.stream(Role.AUDIO_EVENTS, chunks)
        return result

    @cached_property
    def speech_router(self) -> SpeechRouter:
        return SpeechRouter(
            _WhisperTier(self, Role.WHISPER_TINY_EN),
            _WhisperTier(self, Role.WHISPER_BASE),
            self.settings.speech_escalate_logprob,
        )

    def transcribe_windows(
        self, items: Iterable[tuple[Window, npt.NDArray[np.float32]]], duration: float
    ) -> Transcript:
        """A file's windows of speech transcribed, cheap model first (see :mod:`mediasift.inference.speech`)."""
        return self.speech_router.transcribe_windows(items, duration)

    def transcribe(self, audio: npt.NDArray[np.float32], spans: Sequence[Span] | None = None) -> Transcript:
        """Mono 16 kHz samples transcribed: only ``spans`` when given, else all of it."""
        return self.speech_router.transcribe(audio, spans)

    # -- configured models ----------------------------------------------------------------------------

    def caption(self, jpeg: bytes) -> ChatResult:
        """A caption of a picture by the configured vision-language model."""
        client: RemoteClient = self.handle(Role.REMOTE_CHAT).get()
        return client.chat(CAPTION_PROMPT, {}, jpeg)

    def clip(self) -> ClipModel:
        """The configured CLIP model, loaded (for its configuration and zero-shot tags)."""
        model: ClipModel = self.handle(Role.CLIP).get()
        return model

    def clip_images(self, pictures: Sequence[Pixels]) -> list[Vectors]:
        """CLIP vectors of pictures, in the space of :meth:`clip_query`."""
        return self.call(Role.CLIP, list(pictures))

    def clip_tags(self, vectors: Vectors, tags: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each picture vector, every zero-shot tag with its probability, most likely first."""
        return self.clip().tag_probabilities(vectors, tags)

    def clip_query(self, text: str) -> Vectors:
        """A search query's CLIP vector."""
        vectors: list[Vectors] = self.call(Role.CLIP, [text], run=lambda model, texts: list(model.embed_texts(texts)))
        return vectors[0]


class _WhisperTier:
    """A Whisper model as the speech router reaches it: each window's decode cached (a recurring
    jingle, a re-encoded copy of a clip cost nothing) and counted; a language identification counted
    as a call and as an identification."""

    def __init__(self, door: Inference, role: Role) -> None:
        self.door = door
        self.role = role
        self.ref = door.catalog.ref(role)

    def transcribe(self, audio: npt.NDArray[np.float32], language: str, decoding: Decoding = FULL) -> Transcript:
        return self.transcribe_many([audio], language, decoding)[0]

    def transcribe_many(
        self, windows: Sequence[npt.NDArray[np.float32]], language: str, decoding: Decoding = FULL
    ) -> list[Transcript]:
        """Each window's transcript; the ones not cached go to the model in one call."""
        samples = [mono(audio) for audio in windows]
        spoken = [(samples, language, decoding) for samples in samples if samples.size]
        found: list[Transcript] = self.door.call(
            self.role, spoken,
            key=lambda request: input_hash(request[0], request[1], repr(request[2])),
            stored=dataclasses.asdict, restored=transcript_from_data,
        ) if spoken else []  # fmt: skip
        heard = iter(found)
        empty = Transcript(language=language, segments=[], duration=0.0, model=self.ref.id)
        return [next(heard) if window.size else empty for window in samples]

    def detect_language(self, audio: npt.NDArray[np.float32]) -> Identification:
        started = time.perf_counter()
        identified: Identification = self.door.counted(self.role, lambda model: model.identify(audio), 1)
        stats.record(self.ref, LANGUAGE_IDENTIFICATIONS)
        stats.record(self.ref, LANGUAGE_IDENTIFICATION_SECONDS, time.perf_counter() - started)
        return identified


def _recognise(reader: Any, line_images: list[Any]) -> Sequence[tuple[str, float]]:
    return reader.recognise_line_images(line_images)


def _records_stored(records: Sequence[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(record) for record in records]


def _labels_stored(found: tuple[list[tuple[str, float]], Vectors]) -> tuple[list[tuple[str, float]], Vectors]:
    return found


def _labels_restored(found: Any) -> tuple[list[tuple[str, float]], Vectors]:
    labels, features = found
    return [(str(label), float(score)) for label, score in labels], features
