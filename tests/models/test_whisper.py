"""The Whisper runtime's decoding budgets (a long window decoded with a token budget per second of
audio stays within what the model takes), windows decoded together, and jobs decoding at once."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from mediasift.config import Settings, available_cores
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.media.audio import decode_audio
from mediasift.models.whisper import CANDIDATE, FULL, MAX_NEW_TOKENS, MAX_WINDOW_S, PROBE, Whisper

from support.librivox import recordings

pytestmark = pytest.mark.slow


def test_budgets_grow_with_the_audio_up_to_what_the_model_takes() -> None:
    assert CANDIDATE.max_new_tokens(5.0) == 32 * 5 + 16 < CANDIDATE.max_new_tokens(10.0)  # type: ignore[operator]
    assert CANDIDATE.max_new_tokens(13.0) == 432 and CANDIDATE.max_new_tokens(14.0) == MAX_NEW_TOKENS
    assert CANDIDATE.max_new_tokens(MAX_WINDOW_S) == MAX_NEW_TOKENS
    assert PROBE.max_new_tokens(MAX_WINDOW_S) == 8 * 30 + 16


def test_a_full_window_decoded_as_a_candidate_language_is_transcribed(tmp_path: Path) -> None:
    """A candidate decode of a 25 s window asked for 816 tokens, and faster-whisper refused it: the
    window's job failed every attempt (bench/vad.py found it)."""
    read = recordings()
    audio = np.concatenate([decode_audio(path) for path, _ in read])
    assert 24.0 < audio.size / 16000 <= MAX_WINDOW_S
    tiny: Whisper = Inference(Settings(home=tmp_path)).handle(Role.WHISPER_TINY_EN).get()
    heard = set(re.findall(r"[a-z]+", tiny.decode(audio, "en", CANDIDATE).text.lower()))
    said = {word for _, text in read for word in text.split()}
    assert len(heard & said) >= 0.8 * len(said)


def test_windows_decoded_together_give_what_each_gives_alone(tmp_path: Path) -> None:
    """tiny.en decodes a batch of windows in one generate per pass on the CPU: the same segments,
    words, times and scores as each window decoded alone (faster-whisper's own loop), for windows of
    different lengths (one of 25 s, which Whisper decodes in more than one pass) and one of silence
    (which tiny.en hears as "You", together or alone)."""
    read = recordings()
    audios = [decode_audio(path) for path, _ in read]
    silence = np.zeros(3 * 16000, np.float32)
    windows = [np.concatenate(audios), *audios[:2], silence]
    tiny: Whisper = Inference(Settings(home=tmp_path)).handle(Role.WHISPER_TINY_EN).get()
    assert tiny.batches(PROBE) and not tiny.batches(FULL), "fallback decodes go one by one"
    alone = [tiny.decode(window, "en", PROBE) for window in windows]
    together = tiny.decode_many(windows, "en", PROBE)
    assert [t.segments for t in together] == [a.segments for a in alone]
    assert [t.duration for t in together] == [a.duration for a in alone]
    assert together[0].segments[-1].end > 20.0
    said = {word for _, text in read for word in text.split()}
    heard = set(re.findall(r"[a-z]+", together[0].text.lower()))
    assert len(heard & said) >= 0.8 * len(said)
    assert all(w.start <= w.end for seg in together[0].segments for w in seg.words)
    # Through __call__, as the inference layer calls it: the probes batch, a fallback decode does not.
    mixed = tiny([(windows[1], "en", PROBE), (windows[2], "en", FULL), (windows[0], "en", PROBE)])
    assert [m.segments for m in mixed] == [alone[1].segments, tiny.decode(windows[2], "en").segments, alone[0].segments]


@pytest.mark.skipif(available_cores() < 2, reason="needs two cores")
def test_a_job_per_core_gets_a_whisper_worker_each_and_their_decodes_agree(tmp_path: Path) -> None:
    """With a thread per job (worker concurrency 2 on two cores), tiny.en has a CTranslate2 worker
    per core, so two jobs' decodes need not take turns (with one worker, two videos' transcriptions
    each took twice as long: bench/pipeline.py --batch 4 measures it); decodes from two threads give
    what one alone gives. With two threads per job (concurrency 1), one worker holds both cores."""
    read = recordings()
    window = np.concatenate([decode_audio(path) for path, _ in read])
    paired: Whisper = Inference(Settings(home=tmp_path, worker_concurrency=2)).handle(Role.WHISPER_TINY_EN).get()
    assert paired._model.model.num_workers == 2
    alone = paired.decode(window, "en", PROBE)
    done: list[str] = []
    decoders = [threading.Thread(target=lambda: done.append(paired.decode(window, "en", PROBE).text)) for _ in range(2)]
    for decoder in decoders:
        decoder.start()
    for decoder in decoders:
        decoder.join()
    assert done == [alone.text, alone.text]
    single: Whisper = Inference(Settings(home=tmp_path, worker_concurrency=1)).handle(Role.WHISPER_TINY_EN).get()
    assert single._model.model.num_workers == 1
