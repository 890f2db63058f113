"""Settings flow in from the top: a ``Mediasift(settings)`` built in Python reaches every model, and the
stored lineage names exactly the models that ran, whatever the environment says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift
from mediasift.service_models import OperatorRun

from support import mediagen

pytestmark = pytest.mark.slow

WORDLLAMA = "dleemiller/wordllama-l2-supercat-256"
MINILM = "sentence-transformers/all-MiniLM-L6-v2-onnx-int8"


def _runs(system: Mediasift, asset_id: UUID) -> dict[str, OperatorRun]:
    return system.describe(asset_id).operators


def test_settings_built_in_python_reach_the_models_and_the_lineage(
    settings: Settings, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment says the defaults; only the Settings object says otherwise. Were anything below
    # the entry points to read the environment, it would run (and record) MiniLM and int8.
    monkeypatch.setenv("MEDIASIFT_TEXT_EMBEDDING_TIER", "minilm")
    monkeypatch.setenv("MEDIASIFT_WHISPER_COMPUTE_TYPE", "int8")
    chosen = settings.model_copy(update={"text_embedding_tier": "wordllama", "whisper_compute_type": "float32"})
    spoken = mediagen.make_speech_wav(media_dir / "greenhouse.wav", "the greenhouse needs water every single morning")
    written = mediagen.make_text_file(media_dir / "note.txt", "Copper kettles whistle on the stove at dawn.")

    system = Mediasift(chosen)
    report = system.ingest([spoken, written], wait=True)
    assert not report.failed and not report.refused
    audio, text = (next(a.asset_id for a in report.accepted if a.path.endswith(name)) for name in ("wav", "txt"))

    speech = _runs(system, audio)
    assert speech["transcribe"].model == "whisper-tiny.en-then-base"
    # The router's version names both Whisper models as loaded: float32, not the environment's int8.
    assert "compute=float32" in speech["transcribe"].model_version
    assert "compute=int8" not in speech["transcribe"].model_version
    for runs in (speech, _runs(system, text)):
        assert runs["embed_text"].model == WORDLLAMA
    transcript = next(a for a in system.describe(audio).artifacts if a.kind == "transcript")
    assert {"water", "morning"} <= set(transcript.data["text"].lower().replace(".", "").split())
    assert transcript.data["model"] == "openai/whisper-tiny.en-ct2"

    # What was stored is what ran: 256-d wordllama vectors, none of MiniLM, and search embeds its query
    # with the same tier.
    assert set(system.status().embeddings) == {WORDLLAMA}, MINILM
    assert system.status().embeddings[WORDLLAMA].dim == 256
    hits = system.search("copper kettle", mode=SearchMode.SEMANTIC, limit=1)
    assert hits and hits[0].asset_id == text
    system.close()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MEDIASIFT_WORKER_CONCURRENCY", "abc", "MEDIASIFT_WORKER_CONCURRENCY: Input should be a valid integer"),
        ("MEDIASIFT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nodb", "cannot reach the database"),
        ("MEDIASIFT_DATABASE_URL", "notaurl", "cannot reach the database"),
        ("MEDIASIFT_MAX_FILE_BYTES", "-1", "MEDIASIFT_MAX_FILE_BYTES: Input should be greater than or equal to 1"),
        ("MEDIASIFT_QUEUE_LOW_WATER", "20000", "settings: queue_low_water (20000) must be under queue_high_water"),
        ("MEDIASIFT_LOG_FORMAT", "xml", "MEDIASIFT_LOG_FORMAT: Input should be 'text' or 'json'"),
    ],
)
def test_a_bad_setting_or_an_unreachable_database_is_one_line_and_exit_2(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    env = {**os.environ, "MEDIASIFT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", variable: value}
    done = subprocess.run([sys.executable, "-m", "mediasift.cli", "status"], env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert said in " ".join(done.stderr.split()) and "Traceback" not in done.stderr, done.stderr
