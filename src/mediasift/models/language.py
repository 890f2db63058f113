"""Which language a text is in: lingua over all 75 languages, fast mode first, accurate mode only when
the fast mode is unsure.

lingua's low-accuracy mode uses trigram models only: about 100 MB of RAM and well under a
millisecond per sentence, and right on almost every sentence of a dozen words or more. Its
high-accuracy mode adds 1- to 5-gram models: about 1.3 GB of RAM for every language (12-20 s to
load them all), and it is what gets very short texts right. A text goes to it only when the fast
mode's best language has a confidence under ``language_fast_min_confidence``, and then it decides
only among the fast mode's ten likeliest languages, whose models load on first need (a fraction of
a second each): the full load would make every new worker pay seconds and a gigabyte for one
ambiguous line (eval/language.py measures the trade-off).

lingua keeps its n-gram models in process-wide tables that every detector shares, so dropping a
detector frees nothing. The model objects here therefore unload lingua's tables and hand the freed
heap back to the system when they are collected, which happens when the registry unloads them
(:meth:`ModelHandle.unload`, or idle). Those tables are shared by both modes: unloading either
drops the other's too, and it reloads what it needs on its next call (about 0.3 s for the fast mode).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediasift.config import load_settings
from mediasift.inference import stats
from mediasift.inference.registry import ModelHandle, ModelSpec, Runtime, registry
from mediasift.models import ModelRef
from mediasift.models.weights import ModelWeightsMissing, package_dir

VERSION = "lingua-language-detector==2.1.1"
FAST = ModelRef("lingua-all-languages-low-accuracy", VERSION)
ACCURATE = ModelRef("lingua-all-languages-high-accuracy", VERSION)


def _trim_heap() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise); nothing elsewhere."""
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)


def _release(detector: Any) -> None:
    detector.unload_language_models()
    _trim_heap()


def _release_all(detectors: OrderedDict[frozenset[Any], Any]) -> None:
    for detector in detectors.values():
        detector.unload_language_models()
    _trim_heap()


Scored = list[tuple[Any, float]]  # (lingua Language, confidence), best first


def _code(language: Any) -> str:
    return str(language.iso_code_639_1.name.lower())


class FastModel:
    """lingua's low-accuracy mode over all languages. Thread-safe.

    Language models load per language on first sight; the Latin-script ones, which most text needs,
    are loaded with the model, so that second is counted as its load time rather than charged to the
    first job that happens to need it.
    """

    ref = FAST

    def __init__(self) -> None:
        from lingua import LanguageDetectorBuilder

        self._detector = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
        # Not at exit: the process is about to free everything anyway.
        weakref.finalize(self, _release, self._detector).atexit = False
        self._detector.compute_language_confidence_values("Latin script warm-up: the models load now.")

    def scores(self, text: str) -> Scored:
        """Every language with a confidence above zero, best first. Counted as one call."""
        started = time.perf_counter()
        values = self._detector.compute_language_confidence_values(text)
        stats.record_call(self.ref, 1, time.perf_counter() - started)
        ranked = sorted(((v.language, float(v.value)) for v in values if v.value > 0.0), key=lambda x: -x[1])
        return ranked


class AccurateModel:
    """lingua's high-accuracy mode, asked to choose among a few candidate languages. A detector per
    candidate set is kept (the 64 most recent); the n-gram models behind them are shared per
    language, loaded on first need and unloaded with this object. Thread-safe."""

    ref = ACCURATE
    CANDIDATE_SETS = 64

    def __init__(self) -> None:
        self._detectors: OrderedDict[frozenset[Any], Any] = OrderedDict()
        self._lock = threading.Lock()
        weakref.finalize(self, _release_all, self._detectors).atexit = False

    def best(self, text: str, candidates: Sequence[Any]) -> tuple[str, float] | None:
        """The likeliest of ``candidates`` (lingua Languages, at least two) and its confidence."""
        detector = self._detector(frozenset(candidates))
        started = time.perf_counter()
        values = detector.compute_language_confidence_values(text)
        stats.record_call(self.ref, 1, time.perf_counter() - started)
        top = max(values, key=lambda v: float(v.value), default=None)
        if top is None or top.value <= 0.0:
            return None
        return _code(top.language), float(top.value)

    def _detector(self, languages: frozenset[Any]) -> Any:
        from lingua import LanguageDetectorBuilder

        with self._lock:
            detector = self._detectors.get(languages)
            if detector is None:
                detector = self._detectors[languages] = LanguageDetectorBuilder.from_languages(*languages).build()
                while len(self._detectors) > self.CANDIDATE_SETS:
                    self._detectors.popitem(last=False)
            self._detectors.move_to_end(languages)
            return detector


def weight_files() -> list[Path]:
    """lingua's compiled extension, which carries every language model."""
    found = [p for p in package_dir("lingua").iterdir() if p.name.startswith("lingua.") and p.suffix in {".so", ".pyd"}]
    if not found:
        raise ModelWeightsMissing("the lingua package has no compiled extension; reinstall it with: "
                                  f"pip install --force-reinstall {VERSION}")  # fmt: skip
    return found


FAST_HANDLE = registry.declare(
    ModelSpec(
        id=FAST.id,
        version=FAST.version,
        task="language-identification",
        input_kind="text",
        runtime=Runtime.NATIVE,
        output="ISO 639-1 code + confidence (75 languages)",
        files=weight_files,
        load=FastModel,
        memory_mb=100,
        cost_per_item_usd=1e-8,  # ~0.3 ms per sentence
    )
)

ACCURATE_HANDLE = registry.declare(
    ModelSpec(
        id=ACCURATE.id,
        version=ACCURATE.version,
        task="language-identification",
        input_kind="text",
        runtime=Runtime.NATIVE,
        output="ISO 639-1 code + confidence, among the fast mode's likeliest",
        files=weight_files,
        load=AccurateModel,
        memory_mb=150,
        cost_per_item_usd=5e-8,
    )
)


CANDIDATES = 10  # the fast mode's likeliest languages the accurate mode chooses among


def router_version(min_confidence: float) -> str:
    return f"escalate_below={min_confidence:g};first={FAST.id};then={ACCURATE.id}@top{CANDIDATES};{VERSION}"


class LanguageDetector:
    """The fast mode, escalating to the accurate mode (among the fast mode's ten likeliest languages)
    when the fast mode's confidence is under ``min_confidence`` (default: the
    ``language_fast_min_confidence`` setting).
    Every decision is counted (``stats.record_route``) under ``self.ref``, whose version carries the
    threshold. Thread-safe.

    ``fast`` and ``accurate`` are registry handles; the models are taken from them per call, so an
    unloaded model is loaded again when next needed and never kept alive here.
    """

    ref = ModelRef("lingua-fast-then-accurate", router_version(load_settings().language_fast_min_confidence))

    def __init__(
        self,
        min_confidence: float | None = None,
        fast: ModelHandle = FAST_HANDLE,
        accurate: ModelHandle = ACCURATE_HANDLE,
    ) -> None:
        self.min_confidence = load_settings().language_fast_min_confidence if min_confidence is None else min_confidence
        self.ref = ModelRef(LanguageDetector.ref.id, router_version(self.min_confidence))
        self.fast = fast
        self.accurate = accurate

    def detect(self, text: str) -> tuple[str, float] | None:
        """The ISO 639-1 code (lowercase) and confidence of the most likely language, or None when
        the text has nothing to go on (empty, digits, punctuation) or no language scores above zero."""
        if not any(ch.isalpha() for ch in text):
            return None
        ranked: Scored = self.fast.get().scores(text)
        if not ranked:
            return None
        if ranked[0][1] >= self.min_confidence or len(ranked) == 1:
            stats.record_route(self.ref, self.fast.spec.ref, escalated=False)
            return _code(ranked[0][0]), ranked[0][1]
        stats.record_route(self.ref, self.accurate.spec.ref, escalated=True)
        found: tuple[str, float] | None = self.accurate.get().best(text, [lang for lang, _ in ranked[:CANDIDATES]])
        return found


# Declared so that listings show it and its routing counters (decisions, escalated).
ROUTER_HANDLE = registry.declare(
    ModelSpec(
        id=LanguageDetector.ref.id,
        version=LanguageDetector.ref.version,
        task="language identification, fast mode first, accurate mode when unsure",
        input_kind="text",
        runtime=Runtime.ROUTER,
        output="ISO 639-1 code + confidence (75 languages)",
        files=weight_files,
        load=LanguageDetector,
        cost_per_item_usd=1e-8,  # the tier it tries first
    )
)


def get_language_detector() -> LanguageDetector:
    """The process-wide detector (see the registry for its state)."""
    detector: LanguageDetector = ROUTER_HANDLE.get()
    return detector
