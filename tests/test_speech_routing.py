"""Cheap-first speech routing: tiny.en keeps the English it is sure of, base takes the rest."""

from __future__ import annotations

import re
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.registry import Runtime, registry
from mediasift.media.audio import decode_audio
from mediasift.mediatype import MediaType
from mediasift.models.transcriber import (
    CONFIDENT,
    ENGLISH_HARD,
    LANGUAGE_IDENTIFICATIONS,
    LOOP,
    LOW_LOGPROB,
    NO_WORDS,
    NOT_ENGLISH,
    SAMPLE_RATE,
    SURE,
    Compute,
    MultilingualTranscriber,
    SpeechRecognizer,
    Transcriber,
    Transcript,
    TranscriptSegment,
    gather_windows,
    get_speech_recognizer,
    get_transcriber,
    mean_logprob,
    plan_windows,
    probe_verdict,
    select_compute,
)
from mediasift.operators import transcribe as transcribe_module
from mediasift.operators.transcribe import Transcribe
from mediasift.pipeline.operator import AssetView, OperatorContext, OperatorResult

from mediagen import make_speech_wav

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

ENGLISH = "Please turn off the lights when you leave the room."
GERMAN = "Heute ist das Wetter in Berlin sehr schön. Ich trinke jeden Morgen eine Tasse Kaffee mit Milch."
GERMAN_WORDS = {"heute", "wetter", "berlin", "jeden", "morgen", "tasse", "kaffee", "mit", "milch"}


def segment(text: str, logprob: float, start: float = 0.0, end: float = 1.0, ratio: float = 1.2) -> TranscriptSegment:
    return TranscriptSegment(start, end, text, logprob, 0.0, compression_ratio=ratio)


def probe(*segments: TranscriptSegment) -> Transcript:
    return Transcript(language="en", segments=list(segments), duration=2.0)


def counts(ref: Any, *counters: str) -> dict[str, float]:
    return {c: stats.count(ref, c) for c in counters}


# ----------------------------------------------------------------------------- the decision, without models


def test_mean_logprob_weighs_segments_by_duration_and_skips_empty_ones() -> None:
    segments = [segment("a", -0.2, 0, 3), segment("b", -1.0, 3, 4), segment("", -5.0, 4, 9)]
    assert mean_logprob(segments) == pytest.approx((3 * -0.2 + 1 * -1.0) / 4)
    assert mean_logprob([segment("", -0.1)]) is None


def test_probe_verdict_keeps_only_sure_words_without_a_loop() -> None:
    assert probe_verdict(probe(segment("the lights", -0.3)), -0.8) == SURE
    assert probe_verdict(probe(segment("the lights", -0.3)), -0.2) == LOW_LOGPROB
    assert probe_verdict(probe(segment("and again " * 20, -0.1, ratio=9.0)), -0.8) == LOOP
    assert probe_verdict(probe(), -0.8) == NO_WORDS


def test_compute_type_is_checked_and_named_in_every_version(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="int8, float32"):
        select_compute("float16")
    expected_device = "cuda" if select_compute("int8").device == "cuda" else "cpu"
    assert select_compute("float32") == Compute(expected_device, "float32" if expected_device == "cpu" else "float16")

    int8, float32 = Transcriber(compute_type="int8"), Transcriber(compute_type="float32")
    assert "compute=float32" in float32.ref.version and f"device={expected_device}" in float32.ref.version
    assert int8.ref.id == float32.ref.id and int8.ref.version != float32.ref.version
    monkeypatch.setenv("MEDIASIFT_WHISPER_COMPUTE_TYPE", "float32")
    assert Transcriber().ref == float32.ref, "the setting picks the compute type"

    base = MultilingualTranscriber(compute_type="int8")
    strict, lenient = SpeechRecognizer(int8, base, -0.5), SpeechRecognizer(int8, base, -0.9)
    assert "escalate_below=-0.5" in strict.ref.version and strict.ref.version != lenient.ref.version
    assert SpeechRecognizer(float32, base, -0.5).ref.version != strict.ref.version


def test_both_models_and_the_router_are_declared_with_their_files() -> None:
    tiny, base = registry.handle(Transcriber.ref.id).spec, registry.handle(MultilingualTranscriber.ref.id).spec
    router = registry.handle(SpeechRecognizer.ref.id).spec
    assert (tiny.runtime, base.runtime, router.runtime) == (Runtime.CTRANSLATE2, Runtime.CTRANSLATE2, Runtime.ROUTER)
    assert (tiny.ref, base.ref, router.ref) == (Transcriber.ref, MultilingualTranscriber.ref, SpeechRecognizer.ref)
    assert {p.name for p in tiny.files()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert {p.name for p in base.files()} >= {"model.bin.part1", "model.bin.part2"}
    assert all(p.is_file() for p in router.files())
    assert 0 < tiny.cost_per_item_usd < base.cost_per_item_usd
    assert registry.check().keys().isdisjoint({tiny.id, base.id, router.id})
    assert get_transcriber()._model is registry.handle(tiny.id), "the process-wide model is the registry's"


# ----------------------------------------------------------------------------- real speech


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> SpeechRecognizer:
    """The router at the default threshold, with the base model assembled in a throwaway cache."""
    cache = tmp_path_factory.mktemp("cache")
    return SpeechRecognizer(get_transcriber(), MultilingualTranscriber(cache_dir=cache))


def transcribe(path: Path, recognizer: SpeechRecognizer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The transcribe operator on ``path`` with ``recognizer``; the artifact's data."""
    monkeypatch.setattr(transcribe_module, "get_speech_recognizer", lambda: recognizer)
    context = OperatorContext(
        asset=AssetView(uuid4(), MediaType.AUDIO, "", "", {"has_audio": True}),
        settings=Settings(home=path.parent),
        params={},
        media_path=path,
        read_segments=lambda **_: [],
        read_blob=lambda sha: b"",
        put_blob=lambda data, mime: "",
    )
    result: OperatorResult = Transcribe().run(context)
    (artifact,) = result.artifacts
    data: dict[str, Any] = artifact.data
    return data


@pytest.mark.slow
@needs_espeak
def test_english_stays_on_tiny_en_without_identifying_the_language(
    tmp_path: Path, recognizer: SpeechRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny, base, router = recognizer.english.ref, recognizer.multilingual.ref, recognizer.ref
    before = counts(base, LANGUAGE_IDENTIFICATIONS, "calls"), counts(router, "decisions", f"route:{tiny.id}")
    escalated = stats.count(router, "escalated")
    tiny_calls = stats.count(tiny, "calls")

    data = transcribe(make_speech_wav(tmp_path / "en.wav", ENGLISH), recognizer, monkeypatch)

    assert counts(base, LANGUAGE_IDENTIFICATIONS, "calls") == before[0], "base is never called"
    assert stats.count(tiny, "calls") == tiny_calls + 1, "one window, one tiny.en call: its probe is kept"
    after = counts(router, "decisions", f"route:{tiny.id}")
    assert after == {k: v + 1 for k, v in before[1].items()}
    assert stats.count(router, "escalated") == escalated
    assert data["language"] == "en" and data["model"] == tiny.id and data["language_probability"] is None
    assert set(data["languages"]) == {"en"}
    route = data["route"]
    assert route["model"] == tiny.id and route["reason"] == CONFIDENT and route["probe"] == SURE
    assert route["escalated"] is False and route["language_identified"] is False
    assert route["first_window_logprob"] >= recognizer.escalate_logprob == route["threshold"]
    heard = set(re.findall(r"\w+", data["text"].lower()))
    assert len(heard & {"turn", "off", "lights", "when", "leave", "room"}) >= 5


@pytest.mark.slow
@needs_espeak
def test_german_escalates_to_base_and_is_transcribed_in_german(
    tmp_path: Path, recognizer: SpeechRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, router = recognizer.multilingual.ref, recognizer.ref
    identified, escalated = stats.count(base, LANGUAGE_IDENTIFICATIONS), stats.count(router, "escalated")
    chosen = stats.count(router, f"route:{base.id}")

    data = transcribe(make_speech_wav(tmp_path / "de.wav", GERMAN, voice="de"), recognizer, monkeypatch)

    assert stats.count(base, LANGUAGE_IDENTIFICATIONS) == identified + 1, "identified once, on the first window"
    assert stats.count(router, "escalated") == escalated + 1 and stats.count(router, f"route:{base.id}") == chosen + 1
    assert data["language"] == "de" and data["model"] == base.id and 0 < data["language_probability"] <= 1
    assert set(data["languages"]) == {"de"} and data["languages"]["de"] > 3
    route = data["route"]
    assert route["model"] == base.id and route["reason"] == NOT_ENGLISH and route["probe"] != SURE
    assert route["escalated"] is True and route["language_identified"] is True
    assert len(set(re.findall(r"\w+", data["text"].lower())) & GERMAN_WORDS) >= 4


@pytest.mark.slow
@needs_espeak
def test_english_that_tiny_en_is_unsure_of_goes_to_base_in_english(
    tmp_path: Path, recognizer: SpeechRecognizer
) -> None:
    # A threshold no decode reaches stands in for hard English: tiny.en is "unsure" of anything.
    strict = SpeechRecognizer(recognizer.english, recognizer.multilingual, escalate_logprob=0.0)
    audio = np.concatenate([np.zeros(8000, np.float32), decode_audio(make_speech_wav(tmp_path / "en.wav", ENGLISH))])
    transcript = strict.transcribe(audio)
    assert transcript.route is not None
    assert transcript.route.reason == ENGLISH_HARD and transcript.route.probe == LOW_LOGPROB
    assert transcript.language == "en" and transcript.model == recognizer.multilingual.ref.id
    assert stats.count(strict.ref, "escalated") == 1 and stats.count(strict.ref, "decisions") == 1
    assert "lights" in transcript.text.lower()


@pytest.mark.slow
@needs_espeak
def test_a_file_that_changes_language_is_transcribed_in_each_language(
    tmp_path: Path, recognizer: SpeechRecognizer
) -> None:
    english = decode_audio(make_speech_wav(tmp_path / "en.wav", ENGLISH))
    german = decode_audio(make_speech_wav(tmp_path / "de.wav", GERMAN, voice="de"))
    pause = np.zeros(SAMPLE_RATE, np.float32)
    audio = np.concatenate([english, pause, german, pause, english])
    e, g, p = english.size / SAMPLE_RATE, german.size / SAMPLE_RATE, 1.0
    spans = [(0.0, e), (e + p, e + p + g), (e + 2 * p + g, 2 * e + 2 * p + g)]
    windows = plan_windows(spans, max(e, g) + 0.1)  # a window per sentence
    assert len(windows) == 3
    base, tiny = recognizer.multilingual.ref, recognizer.english.ref
    identified = stats.count(base, LANGUAGE_IDENTIFICATIONS)

    transcript = recognizer.transcribe_windows(gather_windows([audio], windows), audio.size / SAMPLE_RATE)

    spoken = [seg for seg in transcript.segments if seg.text]
    assert spoken and all(a.start <= b.start for a, b in pairwise(spoken)), "segments in file order"
    for (start, end), (language, model) in zip(spans, [("en", tiny.id), ("de", base.id), ("en", tiny.id)], strict=True):
        inside = [seg for seg in spoken if start - 0.2 <= seg.start and seg.end <= end + 0.2]
        assert inside and {(seg.language, seg.model) for seg in inside} == {(language, model)}
        heard = set(re.findall(r"\w+", " ".join(seg.text for seg in inside).lower()))
        assert len(heard & (GERMAN_WORDS if language == "de" else {"turn", "off", "lights", "leave", "room"})) >= 3
    # Window 2: tiny.en's probe fails, base identifies German. Window 3: base identifies English first,
    # then tiny.en is sure of it.
    assert stats.count(base, LANGUAGE_IDENTIFICATIONS) == identified + 2
    assert transcript.route is not None and transcript.route.model == tiny.id, "the file's route is its first window's"
    assert transcript.languages == {"en": pytest.approx(2 * e, abs=0.01), "de": pytest.approx(g, abs=0.01)}
    assert transcript.language == ("de" if g > 2 * e else "en")


def test_process_wide_accessors_share_their_objects() -> None:
    assert get_speech_recognizer() is get_speech_recognizer()
    assert get_speech_recognizer().english is get_transcriber()
