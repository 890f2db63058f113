"""The Whisper runtime's decoding budgets: a long window decoded with a token budget per second of
audio stays within what the model takes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.media.audio import decode_audio
from mediasift.models.whisper import CANDIDATE, MAX_NEW_TOKENS, MAX_WINDOW_S, PROBE, Whisper

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
