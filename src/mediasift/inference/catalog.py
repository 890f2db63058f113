"""Every model of an installation, declared from its ``Settings``: the shipped ones, and those the
settings point at (a remote endpoint, a CLIP folder).

A declaration (:class:`~mediasift.inference.registry.ModelSpec`) names the model that runs under
these settings (its version carries what changes its output: the Whisper compute type and device, a
router's threshold, a CLIP folder's weights), how to find its files and how to load it. Nothing is
loaded here, and nothing is read but ``Settings``: a ``Catalog`` is cheap, so an operator can name
its model for lineage from the settings alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.inference import language, ocr, speech
from mediasift.inference.registry import ModelSpec, Runtime
from mediasift.inference.remote import CHAT_MODEL_ID, EMBEDDING_MODEL_ID, remote_specs
from mediasift.models import ModelRef, whisper
from mediasift.models import audio_events as aed
from mediasift.models import clip as clip_model
from mediasift.models import face_detector as faces
from mediasift.models import image_classifier as labels
from mediasift.models import language as lingua
from mediasift.models import object_detector as objects
from mediasift.models import ocr as rapidocr
from mediasift.models import static_embedder as wordllama
from mediasift.models import tesseract_ocr as tesseract
from mediasift.models import text_embedder as minilm
from mediasift.models import vad as silero
from mediasift.models.weights import ModelWeightsMissing


class Role(StrEnum):
    """What each model is for; the catalog declares one model per role."""

    MINILM = "minilm"
    WORDLLAMA = "wordllama"
    IMAGE_LABELS = "image-labels"
    OBJECTS = "objects"
    FACES = "faces"
    OCR_READER = "ocr-reader"
    OCR_RECOGNISER = "ocr-recogniser"
    TESSERACT = "tesseract"
    OCR_CHAIN = "ocr-chain"
    VAD = "vad"
    AUDIO_EVENTS = "audio-events"
    WHISPER_TINY_EN = "whisper-tiny.en"
    WHISPER_BASE = "whisper-base"
    SPEECH_ROUTER = "speech-router"
    LANGUAGE_FAST = "language-fast"
    LANGUAGE_ACCURATE = "language-accurate"
    LANGUAGE_ROUTER = "language-router"
    CLIP = "clip"
    REMOTE_CHAT = "remote-chat"
    REMOTE_EMBEDDING = "remote-embedding"


TEXT_TIERS = {"minilm": Role.MINILM, "wordllama": Role.WORDLLAMA}
OPTIONAL = (Role.CLIP, Role.REMOTE_CHAT, Role.REMOTE_EMBEDDING)  # declared only when configured

# Measured on the five LibriVox files (24.7 s), 2 threads on a 2-core machine shared with other work
# (bench/whisper_quant.py): wall seconds per second of audio, and resident memory added by loading.
# An item is one window, priced as a full 30 s one. GPU figures were not measured.
WHISPER_SECONDS_PER_AUDIO_SECOND = {
    ("tiny.en", "int8"): 0.12,
    ("tiny.en", "float32"): 0.19,
    ("base", "int8"): 0.21,
    ("base", "float32"): 0.37,
}
WHISPER_MEMORY_MB = {
    ("tiny.en", "int8"): 126,
    ("tiny.en", "float32"): 177,
    ("base", "int8"): 173,
    ("base", "float32"): 299,
}


class NotConfigured(PermanentError):
    """A role whose model the settings do not configure (no CLIP folder, no remote endpoint)."""


def _no_runtime() -> Any:
    raise TypeError("a router has no runtime of its own: the inference layer calls its tiers")


class Catalog:
    """The declarations of one ``Settings``, built on first ask."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._specs: dict[Role, ModelSpec] = {}
        self._lock = threading.Lock()

    def spec(self, role: Role) -> ModelSpec:
        with self._lock:
            found = self._specs.get(role)
        if found is None:
            found = self._build(role)
            with self._lock:
                self._specs[role] = found
        return found

    def ref(self, role: Role) -> ModelRef:
        return self.spec(role).ref

    @property
    def text_role(self) -> Role:
        """The text-embedding model the settings pick (``text_embedding_tier``)."""
        tier = self.settings.text_embedding_tier
        if tier not in TEXT_TIERS:
            raise ValueError(f"MEDIASIFT_TEXT_EMBEDDING_TIER must be one of {', '.join(TEXT_TIERS)}, not {tier!r}")
        return TEXT_TIERS[tier]

    def configured(self, role: Role) -> bool:
        s = self.settings
        if role is Role.CLIP:
            return s.clip_dir is not None
        if role is Role.REMOTE_CHAT:
            return bool(s.remote_base_url and s.remote_chat_model)
        if role is Role.REMOTE_EMBEDDING:
            return bool(s.remote_base_url and s.remote_embedding_model)
        return True

    def specs(self) -> list[ModelSpec]:
        """Every model these settings declare: the shipped ones and the configured ones."""
        return [self.spec(role) for role in Role if self.configured(role)]

    # -- the declarations ----------------------------------------------------------------------------

    def _build(self, role: Role) -> ModelSpec:
        if not self.configured(role):
            raise NotConfigured(f"the settings configure no {role} model")
        builder: Callable[[], ModelSpec] = getattr(self, "_" + role.value.replace("-", "_").replace(".", "_"))
        return builder()

    def _local(self, ref: ModelRef, **fields: Any) -> ModelSpec:
        return ModelSpec(id=ref.id, version=ref.version, **fields)

    def _minilm(self) -> ModelSpec:
        s = self.settings
        return self._local(
            minilm.TextEmbedder.ref, task="text-embedding", input_kind="text", runtime=Runtime.ONNXRUNTIME,
            output=f"{minilm.TextEmbedder.dim}-d unit vector", files=minilm.weight_files,
            load=partial(minilm.load, s), load_key=(s.model_threads, s.batch_max_size), batches=True,
            batch_size=s.batch_max_size, threads=s.model_threads, memory_mb=90,
            cost_per_item_usd=2e-8,  # ~1.7 ms of compute per sentence in batches of 32
        )  # fmt: skip

    def _wordllama(self) -> ModelSpec:
        return self._local(
            wordllama.StaticEmbedder.ref, task="text-embedding", input_kind="text", runtime=Runtime.STATIC,
            output=f"{wordllama.DIM}-d unit vector", files=wordllama.weight_files, load=wordllama.StaticEmbedder,
            batches=True, batch_size=256, memory_mb=60, cost_per_item_usd=2e-9,
        )  # fmt: skip

    def _image_labels(self) -> ModelSpec:
        s = self.settings
        return self._local(
            labels.ImageClassifier.ref, task="image-classification", input_kind="image", runtime=Runtime.LITERT,
            output="1000 ImageNet labels + 1536-d feature vector", files=labels.weight_files,
            load=partial(labels.load, s), load_key=(s.model_threads,), threads=s.model_threads, memory_mb=60,
            cost_per_item_usd=3e-7,  # ~12 ms per picture
        )  # fmt: skip

    def _objects(self) -> ModelSpec:
        s = self.settings
        return self._local(
            objects.ObjectDetector.ref, task="object-detection", input_kind="image", runtime=Runtime.OPENCV_DNN,
            output="boxes of 90 COCO classes", files=objects.weight_files, load=partial(objects.load, s),
            load_key=(s.model_threads,), threads=s.model_threads, memory_mb=80,
            cost_per_item_usd=1.3e-6,  # ~60 ms per picture
        )  # fmt: skip

    def _faces(self) -> ModelSpec:
        return self._local(
            faces.FaceDetector.ref, task="face-detection", input_kind="image", runtime=Runtime.NATIVE,
            output="face boxes + 5 landmarks", files=faces.weight_files, load=faces.load, memory_mb=10,
            cost_per_item_usd=9e-7,  # ~40 ms per picture
        )  # fmt: skip

    def _ocr_reader(self) -> ModelSpec:
        s = self.settings
        return self._local(
            rapidocr.TextReader.ref, task="ocr", input_kind="image", runtime=Runtime.ONNXRUNTIME,
            output="text lines with boxes and confidence", files=rapidocr.weight_files,
            load=partial(rapidocr.load, s), load_key=(s.model_threads, s.batch_max_size), batches=True,
            batch_size=s.batch_max_size, threads=s.model_threads, memory_mb=150,
            cost_per_item_usd=1e-5,  # ~0.3-1 s per picture
        )  # fmt: skip

    def _ocr_recogniser(self) -> ModelSpec:
        """rapidocr's second stage, batched across pictures and jobs: the reader above seen from its
        micro-batcher, with counters of its own (batches, lines, time)."""
        reader = self.spec(Role.OCR_READER)
        return self._local(
            rapidocr.TextReader.rec_ref, task="ocr line recognition (rapidocr's second stage, batched across pictures)",
            input_kind="image", runtime=Runtime.ONNXRUNTIME, output="text and confidence per line image",
            files=rapidocr.weight_files, load=reader.load, load_key=reader.load_key, batches=True,
            batch_size=self.settings.batch_max_size, cost_per_item_usd=1e-6,
        )  # fmt: skip

    def _tesseract(self) -> ModelSpec:
        s = self.settings
        return self._local(
            tesseract.TesseractReader.ref, task="ocr", input_kind="image", runtime=Runtime.PROCESS,
            output="text lines with boxes and confidence (words grouped)", files=tesseract.weight_files,
            load=partial(tesseract.load, s), load_key=(s.ocr_timeout_s,),
            memory_mb=60,  # per running process, freed when it exits
            cost_per_item_usd=6e-6,  # ~0.25 s per picture, process start included
            optional=True,  # only the fallback: OCR works without it while rapidocr does
        )  # fmt: skip

    def _ocr_chain(self) -> ModelSpec:
        """Declared so that listings show it and its counters (fallbacks, answers per engine). It needs
        only rapidocr's files: tesseract is optional."""
        return self._local(
            ocr.CHAIN, task="ocr, rapidocr first, tesseract when it fails or times out", input_kind="image",
            runtime=Runtime.ROUTER, output="text lines with boxes and confidence, and the engine that read them",
            files=rapidocr.weight_files, load=_no_runtime, cost_per_item_usd=1e-5,  # the tier it tries first
        )  # fmt: skip

    def _vad(self) -> ModelSpec:
        return self._local(
            silero.SileroVad.ref, task="voice-activity", input_kind="audio", runtime=Runtime.ONNXRUNTIME,
            output="speech probability per 32 ms", files=silero.weight_files, load=silero.load, memory_mb=20,
            cost_per_item_usd=1.1e-7,  # ~5 ms per second of audio
        )  # fmt: skip

    def _audio_events(self) -> ModelSpec:
        return self._local(
            aed.AudioEventDetector.ref, task="audio-events", input_kind="audio", runtime=Runtime.NCNN,
            output="speech / singing / music spans", files=aed.weight_files, load=aed.load, memory_mb=30,
            cost_per_item_usd=1.6e-7,  # ~7 ms per second of audio
        )  # fmt: skip

    def _whisper(self, name: str, ref: ModelRef) -> dict[str, Any]:
        s = self.settings
        per_second = WHISPER_SECONDS_PER_AUDIO_SECOND[name, s.whisper_compute_type]
        return {
            "input_kind": "audio: one window of <= 30 s, 16 kHz mono",
            "runtime": Runtime.CTRANSLATE2,
            "load_key": (s.model_threads, str(s.cache_dir)),
            "threads": s.model_threads,
            "memory_mb": WHISPER_MEMORY_MB[name, s.whisper_compute_type],
            "cost_per_item_usd": per_second * whisper.MAX_WINDOW_S * s.compute_usd_per_hour / 3600.0,
        }

    def _compute(self) -> whisper.Compute:
        return whisper.select_compute(self.settings.whisper_compute_type)

    def _whisper_tiny_en(self) -> ModelSpec:
        ref = whisper.tiny_en_ref(self._compute())
        return self._local(
            ref, task="speech-to-text (English)", output="text segments with word times", files=whisper.tiny_files,
            load=partial(whisper.load_tiny_en, self.settings), **self._whisper("tiny.en", ref),
        )  # fmt: skip

    def _whisper_base(self) -> ModelSpec:
        ref = whisper.base_ref(self._compute())
        return self._local(
            ref, task="speech-to-text (99 languages) and language identification",
            output="text segments with word times; language", files=whisper.base_files,
            load=partial(whisper.load_base, self.settings), **self._whisper("base", ref),
        )  # fmt: skip

    def _speech_router(self) -> ModelSpec:
        tiny, base = self.spec(Role.WHISPER_TINY_EN), self.spec(Role.WHISPER_BASE)
        version = speech.router_version(tiny.ref, base.ref, self.settings.speech_escalate_logprob)
        return self._local(
            ModelRef(speech.ROUTER_ID, version), task="speech-to-text, tiny.en first, base when unsure or not English",
            input_kind="audio: a file's windows of speech", runtime=Runtime.ROUTER,
            output="transcript with language and route", files=lambda: [*tiny.files(), *base.files()],
            load=_no_runtime, cost_per_item_usd=tiny.cost_per_item_usd,  # the tier it tries first
        )  # fmt: skip

    def _language_fast(self) -> ModelSpec:
        return self._local(
            lingua.FAST, task="language-identification", input_kind="text", runtime=Runtime.NATIVE,
            output="ISO 639-1 code + confidence (75 languages)", files=lingua.weight_files, load=lingua.FastModel,
            memory_mb=100, cost_per_item_usd=1e-8,  # ~0.3 ms per sentence
        )  # fmt: skip

    def _language_accurate(self) -> ModelSpec:
        return self._local(
            lingua.ACCURATE, task="language-identification", input_kind="text", runtime=Runtime.NATIVE,
            output="ISO 639-1 code + confidence, among the fast mode's likeliest", files=lingua.weight_files,
            load=lingua.AccurateModel, memory_mb=150, cost_per_item_usd=5e-8,
        )  # fmt: skip

    def _language_router(self) -> ModelSpec:
        threshold = self.settings.language_fast_min_confidence
        version = language.router_version(lingua.FAST, lingua.ACCURATE, threshold)
        return self._local(
            ModelRef(language.ROUTER_ID, version),
            task="language identification, fast mode first, accurate mode when unsure", input_kind="text",
            runtime=Runtime.ROUTER, output="ISO 639-1 code + confidence (75 languages)", files=lingua.weight_files,
            load=_no_runtime, cost_per_item_usd=1e-8,  # the tier it tries first
        )  # fmt: skip

    def _clip(self) -> ModelSpec:
        assert self.settings.clip_dir is not None
        return clip_spec(self.settings.clip_dir.expanduser().resolve(), self.settings.model_threads)

    def _remote(self, model_id: str) -> ModelSpec:
        return next(spec for spec in remote_specs(self.settings) if spec.id == model_id)

    def _remote_chat(self) -> ModelSpec:
        return self._remote(CHAT_MODEL_ID)

    def _remote_embedding(self) -> ModelSpec:
        return self._remote(EMBEDDING_MODEL_ID)


# -- the CLIP folder ----------------------------------------------------------------------------------
#
# Its version hashes the weights. The hash is taken again only when a file's size or modification time
# changed: declaring the model must stay cheap, since every use of the settings declares it.

UNUSABLE_CLIP = ModelRef("clip", "unusable")
_clip_refs: dict[Path, tuple[tuple[Any, ...], ModelRef]] = {}
_clip_lock = threading.Lock()


def clip_spec(folder: Path, threads: int) -> ModelSpec:
    """The configured CLIP folder's declaration. A folder that cannot even be read is declared too, as
    ``clip`` version ``unusable``, whose ``files`` and ``load`` raise the reason: ``models list`` and
    the start-up check report it, and whatever uses the model fails with it."""
    try:
        files = clip_model.weight_files(folder)
        config = clip_model.read_config(folder)
        stamp = tuple((f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
        with _clip_lock:
            known = _clip_refs.get(folder)
        if known is not None and known[0] == stamp:
            ref = known[1]
        else:
            ref = clip_model.clip_ref(folder, config, files)
            with _clip_lock:
                _clip_refs[folder] = (stamp, ref)
    except ModelWeightsMissing as exc:
        return _unusable_clip(str(exc))
    weight_bytes = sum(f.stat().st_size for f in files if f.suffix in (".onnx", ".data"))
    return ModelSpec(
        id=ref.id, version=ref.version, task="image-text-embedding", input_kind="image, text",
        runtime=Runtime.ONNXRUNTIME, output=f"{config.dim}-d unit vectors, one space for pictures and texts",
        files=partial(clip_model.weight_files, folder), load=partial(clip_model.ClipModel, folder, ref, threads),
        load_key=(str(folder), threads), batches=True, batch_size=clip_model.BATCH_SIZE, threads=threads,
        memory_mb=max(1, round(1.5 * weight_bytes / 2**20)),  # the weights plus ONNX Runtime's arenas
        optional=True,
    )  # fmt: skip


def _unusable_clip(reason: str) -> ModelSpec:
    def fail() -> Any:
        raise clip_model.ClipFolderError(reason)

    return ModelSpec(
        id=UNUSABLE_CLIP.id, version=UNUSABLE_CLIP.version, task="image-text-embedding", input_kind="image, text",
        runtime=Runtime.ONNXRUNTIME, output="nothing until the folder is fixed", files=fail, load=fail, optional=True,
    )  # fmt: skip


def model_ref(settings: Settings, role: Role) -> ModelRef:
    """The model these settings declare for ``role``, without loading anything."""
    return Catalog(settings).ref(role)
