"""Which language a text is in: lingua over all 75 languages, in its fast and its accurate mode (the
router between them is :mod:`mediasift.inference.language`).

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
heap back to the system when they are collected, which happens when the inference layer unloads them
(when idle). Those tables are shared by both modes: unloading either
drops the other's too, and it reloads what it needs on its next call (about 0.3 s for the fast mode).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediasift.models import ModelRef
from mediasift.models.weights import ModelWeightsMissing, package_dir, trim_heap

VERSION = "lingua-language-detector==2.1.1"
FAST = ModelRef("lingua-all-languages-low-accuracy", VERSION)
ACCURATE = ModelRef("lingua-all-languages-high-accuracy", VERSION)


def _release(detector: Any) -> None:
    detector.unload_language_models()
    trim_heap()


def _release_all(detectors: OrderedDict[frozenset[Any], Any]) -> None:
    for detector in detectors.values():
        detector.unload_language_models()
    trim_heap()


Scored = list[tuple[Any, float]]  # (lingua Language, confidence), best first


def language_code(language: Any) -> str:
    """A lingua Language as its ISO 639-1 code, lowercase."""
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
        """Every language with a confidence above zero, best first."""
        values = self._detector.compute_language_confidence_values(text)
        ranked = sorted(((v.language, float(v.value)) for v in values if v.value > 0.0), key=lambda x: -x[1])
        return ranked

    def __call__(self, texts: Sequence[str]) -> list[Scored]:
        """:meth:`scores` of each text."""
        return [self.scores(text) for text in texts]


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
        values = detector.compute_language_confidence_values(text)
        top = max(values, key=lambda v: float(v.value), default=None)
        if top is None or top.value <= 0.0:
            return None
        return language_code(top.language), float(top.value)

    def __call__(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[str, float] | None]:
        """:meth:`best` for each (text, candidate languages)."""
        return [self.best(text, candidates) for text, candidates in requests]

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
