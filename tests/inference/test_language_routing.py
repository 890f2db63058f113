"""Language identification routed from lingua's fast mode to its accurate mode, with real models.

Each test gives the router a fresh handle of the accurate model, so whether that model was loaded
(and how often) is seen per test. The short escalating texts carry letters that only a few
languages use, so the accurate mode loads only those languages (milliseconds, not the ~10 s that
every Latin-script language takes).
"""

from __future__ import annotations

import pytest

from mediasift.inference import stats
from mediasift.inference.registry import ModelHandle, registry
from mediasift.models import ModelRef
from mediasift.models.language import ACCURATE, ACCURATE_HANDLE, FAST, LanguageDetector, get_language_detector

pytestmark = pytest.mark.slow

CLEAR = "The weather is lovely today and we are going to the beach with the children."
# The fast mode says Vietnamese at about 0.52 (eval/language.py); the accurate mode says Portuguese.
AMBIGUOUS = "Não sei"


def _router(min_confidence: float = 0.6) -> tuple[LanguageDetector, ModelHandle]:
    accurate = ModelHandle(ACCURATE_HANDLE.spec)
    return LanguageDetector(min_confidence=min_confidence, accurate=accurate), accurate


def _counts(ref: ModelRef) -> dict[str, float]:
    return {
        "decisions": stats.count(ref, "decisions"),
        "fast": stats.count(ref, f"route:{FAST.id}"),
        "accurate": stats.count(ref, f"route:{ACCURATE.id}"),
        "escalated": stats.count(ref, "escalated"),
        "accurate_calls": stats.count(ACCURATE, "calls"),
    }


def _delta(ref: ModelRef, before: dict[str, float]) -> dict[str, float]:
    return {key: value - before[key] for key, value in _counts(ref).items()}


def test_a_clear_sentence_stays_on_the_fast_mode() -> None:
    router, accurate = _router()
    before = _counts(router.ref)
    assert router.detect(CLEAR) == ("en", pytest.approx(1.0, abs=0.01))
    assert not accurate.loaded, "the accurate model was loaded for a clear sentence"
    assert _delta(router.ref, before) == {"decisions": 1, "fast": 1, "accurate": 0, "escalated": 0, "accurate_calls": 0}


def test_an_ambiguous_short_text_escalates_and_is_recorded() -> None:
    fast_only = LanguageDetector(min_confidence=0.0)
    wrong_fast = fast_only.detect(AMBIGUOUS)
    assert wrong_fast is not None and wrong_fast[0] != "pt" and wrong_fast[1] < 0.6

    router, accurate = _router()
    before = _counts(router.ref)
    found = router.detect(AMBIGUOUS)
    assert found is not None and found[0] == "pt" and found[1] > 0.9
    assert accurate.loaded and accurate.loads == 1
    assert _delta(router.ref, before) == {"decisions": 1, "fast": 0, "accurate": 1, "escalated": 1, "accurate_calls": 1}


def test_the_accurate_model_unloads_and_comes_back_when_needed() -> None:
    router, accurate = _router()
    assert router.detect(AMBIGUOUS) is not None
    assert accurate.unload() and not accurate.loaded
    found = router.detect(AMBIGUOUS)
    assert found is not None and found[0] == "pt"
    assert accurate.loads == 2


def test_the_threshold_decides_the_route() -> None:
    never, never_accurate = _router(min_confidence=0.0)
    always, always_accurate = _router(min_confidence=1.01)
    assert never.detect(AMBIGUOUS) != always.detect(AMBIGUOUS)
    assert not never_accurate.loaded and always_accurate.loaded


def test_no_letters_means_no_language_and_no_route() -> None:
    router, accurate = _router()
    before = _counts(router.ref)
    assert router.detect("12 345 !!!") is None
    assert _delta(router.ref, before)["decisions"] == 0 and not accurate.loaded


def test_both_modes_and_the_router_are_declared_and_found() -> None:
    for ref in (FAST, ACCURATE):
        spec = registry.handle(ref.id).spec
        assert spec.runtime == "native" and spec.ref == ref
        assert all(path.is_file() for path in spec.files())
    assert registry.handle(ACCURATE.id).spec.memory_mb > registry.handle(FAST.id).spec.memory_mb
    router = registry.handle(LanguageDetector.ref.id)
    assert router.spec.runtime == "router" and get_language_detector() is router.get()
    assert "escalate_below=" in get_language_detector().ref.version
    problems = registry.check()
    assert not {FAST.id, ACCURATE.id, LanguageDetector.ref.id} & set(problems)
