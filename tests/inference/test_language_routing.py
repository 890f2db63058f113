"""Language identification routed from lingua's fast mode to its accurate mode, with real models,
through the inference door (``Inference.language``).

The accurate model's runtime is shared by every door of the process (the runtime pool), so each test
that looks at whether it was loaded (and how often) unloads it first. The short escalating texts
carry letters that only a few languages use, so the accurate mode loads only those languages
(milliseconds, not the ~10 s that every Latin-script language takes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.catalog import Catalog, Role
from mediasift.inference.door import Inference
from mediasift.inference.language import ROUTER_ID, candidates, sentences
from mediasift.inference.registry import ModelHandle
from mediasift.models import ModelRef
from mediasift.models.language import ACCURATE, FAST

pytestmark = pytest.mark.slow

CLEAR = "The weather is lovely today and we are going to the beach with the children."
# The fast mode says Vietnamese at about 0.52 (eval/language.py); the accurate mode says Portuguese.
AMBIGUOUS = "Não sei"


def _door(tmp_path: Path, min_confidence: float = 0.8) -> tuple[Inference, ModelHandle]:
    """A door routing at ``min_confidence``, and the process's handle on the accurate model, unloaded."""
    door = Inference(Settings(home=tmp_path, language_fast_min_confidence=min_confidence))
    accurate = door.handle(Role.LANGUAGE_ACCURATE)
    accurate.unload()
    return door, accurate


def _counts(ref: ModelRef) -> dict[str, float]:
    return {
        "decisions": stats.count(ref, "decisions"),
        "fast": stats.count(ref, f"route:{FAST.id}"),
        "accurate": stats.count(ref, f"route:{ACCURATE.id}"),
        "escalated": stats.count(ref, "escalated"),
        "fast_calls": stats.count(FAST, "calls"),
        "accurate_calls": stats.count(ACCURATE, "calls"),
    }


def _delta(ref: ModelRef, before: dict[str, float]) -> dict[str, float]:
    return {key: value - before[key] for key, value in _counts(ref).items()}


def test_a_clear_sentence_stays_on_the_fast_mode(tmp_path: Path) -> None:
    door, accurate = _door(tmp_path)
    router = door.language_router.ref
    before = _counts(router)
    assert door.language(CLEAR) == ("en", pytest.approx(1.0, abs=0.01))
    assert not accurate.loaded, "the accurate model was loaded for a clear sentence"
    assert _delta(router, before) == {
        "decisions": 1, "fast": 1, "accurate": 0, "escalated": 0, "fast_calls": 1, "accurate_calls": 0,
    }  # fmt: skip


def test_an_ambiguous_short_text_escalates_and_is_recorded(tmp_path: Path) -> None:
    fast_only, _ = _door(tmp_path, min_confidence=0.0)
    wrong_fast = fast_only.language(AMBIGUOUS)
    assert wrong_fast is not None and wrong_fast[0] != "pt" and wrong_fast[1] < 0.6

    door, accurate = _door(tmp_path)
    router = door.language_router.ref
    before = _counts(router)
    loads = accurate.loads
    found = door.language(AMBIGUOUS)
    assert found is not None and found[0] == "pt" and found[1] > 0.9
    assert accurate.loaded and accurate.loads == loads + 1
    assert _delta(router, before) == {
        "decisions": 1, "fast": 0, "accurate": 1, "escalated": 1, "fast_calls": 1, "accurate_calls": 1,
    }  # fmt: skip


def test_the_accurate_model_unloads_and_comes_back_when_needed(tmp_path: Path) -> None:
    door, accurate = _door(tmp_path)
    loads = accurate.loads
    assert door.language(AMBIGUOUS) is not None
    assert accurate.unload() and not accurate.loaded
    found = door.language(AMBIGUOUS)
    assert found is not None and found[0] == "pt"
    assert accurate.loads == loads + 2


def test_the_threshold_decides_the_route(tmp_path: Path) -> None:
    never, accurate = _door(tmp_path, min_confidence=0.0)
    always = Inference(Settings(home=tmp_path, language_fast_min_confidence=1.01))
    assert never.language_router.ref.version != always.language_router.ref.version
    assert always.handle(Role.LANGUAGE_ACCURATE) is accurate  # one runtime, whatever the threshold
    answer = never.language(AMBIGUOUS)
    assert not accurate.loaded
    assert always.language(AMBIGUOUS) != answer
    assert accurate.loaded


# The fast mode's own confidence, at the default threshold (0.8): "grazie mille amico" Italian at 0.83,
# inside the line; a long English sentence named Turkish at 0.72 (a place name in it), past it.
FAST_SURE = "grazie mille amico"
NAMED_WRONG = "A retired violinist photographed a rare snowy owl in a vineyard outside Tbilisi."


def test_the_fast_mode_is_trusted_from_confidence_0_8(tmp_path: Path) -> None:
    """At the default setting: 0.83 stays on the fast mode, 0.72 goes to the accurate one, which
    puts it right."""
    fast_only, _ = _door(tmp_path, min_confidence=0.0)
    assert [fast_only.language(text) for text in (FAST_SURE, NAMED_WRONG)] == [
        ("it", pytest.approx(0.828, abs=0.005)), ("tr", pytest.approx(0.721, abs=0.005)),
    ]  # fmt: skip
    door = Inference(Settings(home=tmp_path))
    router = door.language_router.ref
    before = _counts(router)
    assert door.language(FAST_SURE) == ("it", pytest.approx(0.828, abs=0.005))
    stayed = _delta(router, before)
    assert (stayed["fast"], stayed["accurate"], stayed["escalated"], stayed["accurate_calls"]) == (1, 0, 0, 0)
    before = _counts(router)
    found = door.language(NAMED_WRONG)
    assert found is not None and found[0] == "en"
    assert _delta(router, before)["accurate"] == 1 and _delta(router, before)["escalated"] == 1


def test_the_setting_moves_the_fast_modes_line(tmp_path: Path) -> None:
    lower, _ = _door(tmp_path, min_confidence=0.5)
    assert lower.language(AMBIGUOUS) == ("vi", pytest.approx(0.516, abs=0.005)), "0.52 is trusted from 0.5"
    trusting, _ = _door(tmp_path, min_confidence=0.72)
    assert trusting.language(NAMED_WRONG) == ("tr", pytest.approx(0.721, abs=0.005)), "0.721 is trusted from 0.72"
    doubting, _ = _door(tmp_path, min_confidence=0.73)
    router = doubting.language_router.ref
    before = _counts(router)
    assert doubting.language(NAMED_WRONG) == ("en", pytest.approx(1.0, abs=0.2))
    assert _delta(router, before)["escalated"] == 1, "0.721 is not trusted from 0.73"


def test_a_text_with_one_likely_language_stays_on_the_fast_mode(tmp_path: Path) -> None:
    """The accurate mode chooses only among languages the fast mode gives a tenth of its best: where
    none is left besides the best, it has nothing to choose, and is neither loaded nor asked."""
    fast_only, _ = _door(tmp_path, min_confidence=0.0)
    ranked = fast_only.handle(Role.LANGUAGE_FAST).get().scores(FAST_SURE)
    assert ranked[0][1] == pytest.approx(0.828, abs=0.005) and ranked[1][1] < 0.1 * ranked[0][1]
    door, accurate = _door(tmp_path, min_confidence=0.85)
    router = door.language_router.ref
    before = _counts(router)
    assert door.language(FAST_SURE) == ("it", pytest.approx(0.828, abs=0.005))
    assert _delta(router, before)["escalated"] == 0 and not accurate.loaded


def test_candidates_are_the_likeliest_ten_with_a_tenth_of_the_best() -> None:
    ranked = [(f"lang{i}", score) for i, score in enumerate([0.5, 0.2, 0.05, 0.049] + [0.0001] * 9)]
    assert candidates(ranked) == ["lang0", "lang1", "lang2"]  # 0.049 is under a tenth of 0.5
    even = [(f"lang{i}", 0.08) for i in range(12)]
    assert candidates(even) == [f"lang{i}" for i in range(10)]


def test_no_letters_means_no_language_and_no_route(tmp_path: Path) -> None:
    door, accurate = _door(tmp_path)
    router = door.language_router.ref
    before = _counts(router)
    assert door.language("12 345 !!!") is None
    assert _delta(router, before)["decisions"] == 0 and _delta(router, before)["fast_calls"] == 0
    assert not accurate.loaded


def test_both_modes_and_the_router_are_declared_and_found(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    catalog = Catalog(settings)
    fast, accurate = catalog.spec(Role.LANGUAGE_FAST), catalog.spec(Role.LANGUAGE_ACCURATE)
    for spec, ref in ((fast, FAST), (accurate, ACCURATE)):
        assert spec.runtime == "native" and spec.ref == ref
        assert all(path.is_file() for path in spec.files())
    assert accurate.memory_mb > fast.memory_mb
    router = catalog.spec(Role.LANGUAGE_ROUTER)
    assert router.runtime == "router" and router.id == ROUTER_ID
    door = Inference(settings)
    assert door.language_router.ref == router.ref  # lineage names the router the door runs
    assert "escalate_below=0.8" in router.version
    problems = door.problems()
    assert not {FAST.id, ACCURATE.id, ROUTER_ID} & set(problems)


def test_names_from_other_languages_do_not_outvote_the_sentences(tmp_path: Path) -> None:
    """Both modes read this English note as Tagalog (0.67, 0.69; English 0.001): the names of a café in
    Łódź, a street and a Danish town sway the whole text. Sentence by sentence, two of three are
    English; a German text with one English sentence stays German."""
    door, _ = _door(tmp_path)
    note = (
        "Travel notes: we had coffee at the Café Müller in Łódź and then walked along the Hauptstraße. "
        "The part number of the broken gadget is XK-4471B. Tomorrow we fly to Ærøskøbing."
    )
    whole = door.call(Role.LANGUAGE_FAST, [note])[0]
    assert whole[0][0].name == "TAGALOG", "the text as a whole: the case this is for"
    found = door.language(note)
    assert found is not None and found[0] == "en" and 0.5 < found[1] <= 1.0
    mixed = "Der Leuchtturmwärter notierte den Sturm über dem Hafen. Danach schrieb er einen Brief. See you soon."
    assert door.language(mixed) == ("de", pytest.approx(1.0, abs=0.3))


def test_a_text_is_cut_into_sentences_of_twenty_letters_or_more() -> None:
    assert sentences("Hello. How are you today, my friend? Fine.") == ["Hello. How are you today, my friend? Fine."]
    assert sentences("The first sentence is here. The second one is here too!  A third.") == [
        "The first sentence is here.",
        "The second one is here too! A third.",
    ]
    assert sentences("no end mark at all") == ["no end mark at all"]
