"""Drift beyond confidence: an embedding model's vectors, and the mix of inputs, unlike the baseline
are flagged; a fresh sample of the baseline's own distribution is not."""

from __future__ import annotations

import random
import re
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.obs.drift import (
    CENTROID_SHIFT,
    SPREAD_RATIO,
    duration_class,
    embedding_shift,
    embedding_shifted,
    mix_entry,
    resolution_class,
)
from mediasift.obs.quality import SHIFT_PSI
from mediasift.service import Mediasift

from support import mediagen

EN = {
    "adj": ["old", "quiet", "busy", "small", "famous", "new", "narrow", "sunny"],
    "noun": ["baker", "ferry", "library", "teacher", "market", "farmer", "museum", "train"],
    "verb": ["opens", "waits", "closes early", "stays busy", "welcomes visitors", "moves slowly"],
    "place": ["near the harbour", "in the old town", "by the river", "on the main square", "at the station"],
    "time": ["every morning", "on Sundays", "in winter", "after the rain", "before noon"],
}
DE = {
    "adj": ["alte", "ruhige", "kleine", "neue", "schmale", "sonnige", "berühmte", "laute"],
    "noun": ["Bäckerei", "Fähre", "Bibliothek", "Lehrerin", "Markthalle", "Bäuerin", "Kirche", "Straßenbahn"],
    "verb": ["öffnet", "wartet", "schließt früh", "bleibt voll", "begrüßt Besucher", "fährt langsam"],
    "place": ["am Hafen", "in der Altstadt", "neben dem Fluss", "auf dem Marktplatz", "am Bahnhof"],
    "time": ["jeden Morgen", "am Sonntag", "im Winter", "nach dem Regen", "vor Mittag"],
}


def sentences(words: dict[str, list[str]], n: int, seed: int, article: str) -> str:
    rng = random.Random(seed)
    picked = [
        f"{article} {rng.choice(words['adj'])} {rng.choice(words['noun'])} {rng.choice(words['verb'])} "
        f"{rng.choice(words['place'])} {rng.choice(words['time'])}."
        for _ in range(n)
    ]
    return "\n\n".join(picked)


# -- the measures ----------------------------------------------------------------------------------------


def test_a_centroid_shift_just_past_the_threshold_is_flagged_and_just_short_of_it_is_not() -> None:
    rng = np.random.default_rng(7)
    baseline = rng.normal(size=(400, 16)).astype(np.float32)
    spread = float(np.sqrt(((baseline - baseline.mean(axis=0)) ** 2).sum(axis=1).mean()))
    noise = 1 / 400 + 1 / 400
    direction = np.zeros(16, dtype=np.float32)
    direction[0] = 1.0
    for target, flagged in ((CENTROID_SHIFT * 1.02, True), (CENTROID_SHIFT * 0.98, False)):
        # the same vectors moved by ``target`` radii beyond the sampling noise the measure discounts
        moved = baseline + direction * spread * float(np.sqrt(target**2 + noise))
        shift, ratio = embedding_shift(moved, baseline)
        assert shift == pytest.approx(target, rel=1e-3) and ratio == pytest.approx(1.0, rel=1e-3)
        assert embedding_shifted(shift, ratio) is flagged


def test_a_spread_ratio_just_outside_the_band_is_flagged_and_just_inside_is_not() -> None:
    rng = np.random.default_rng(8)
    baseline = rng.normal(size=(300, 8)).astype(np.float32)
    centre = baseline.mean(axis=0)
    for factor, flagged in ((SPREAD_RATIO * 1.01, True), (SPREAD_RATIO * 0.99, False), (1 / SPREAD_RATIO / 1.01, True),
                            (1 / SPREAD_RATIO * 1.01, False)):  # fmt: skip
        shift, ratio = embedding_shift(centre + (baseline - centre) * factor, baseline)
        assert ratio == pytest.approx(factor, rel=1e-4) and shift < 0.1
        assert embedding_shifted(shift, ratio) is flagged


def test_a_fresh_sample_of_the_baseline_distribution_is_not_flagged_at_any_size() -> None:
    rng = np.random.default_rng(9)
    for n in (20, 60, 500):
        shift, ratio = embedding_shift(rng.normal(size=(n, 32)), rng.normal(size=(n, 32)))
        assert shift < CENTROID_SHIFT / 2 and not embedding_shifted(shift, ratio), (n, shift, ratio)


def test_the_input_mix_flags_a_new_mix_past_the_psi_threshold_only() -> None:
    same = mix_entry([(True, "en")] * 30 + [(True, "de")] * 10 + [(False, "en")] * 30 + [(False, "de")] * 10, 20)
    assert same["psi"] == pytest.approx(0.0) and same["shifted"] is False
    moved = mix_entry([(True, "de")] * 30 + [(True, "en")] * 10 + [(False, "en")] * 30 + [(False, "de")] * 10, 20)
    assert moved["psi"] > SHIFT_PSI and moved["shifted"] is True
    assert moved["recent"] == {"de": 0.75, "en": 0.25}
    few = mix_entry([(True, "de")] * 30 + [(False, "en")] * 19, 20)
    assert few["psi"] is None and few["shifted"] is False, "too few in the baseline to judge"
    # a 50/50 baseline against a recent share p of one category: PSI = (p - 0.5) * ln(p / (1 - p)),
    # 0.25 at p ~ 0.7395
    just_under, just_over = _mix_psi(0.738), _mix_psi(0.741)
    assert just_under < SHIFT_PSI <= just_over


def _mix_psi(share: float) -> float:
    n = 1000
    recent = [(True, "a")] * round(n * share) + [(True, "b")] * round(n * (1 - share))
    psi = mix_entry(recent + [(False, "a")] * (n // 2) + [(False, "b")] * (n // 2), 10)["psi"]
    assert psi is not None
    return float(psi)


def test_resolution_and_duration_classes() -> None:
    assert [resolution_class(h) for h in (None, 360, 480, 720, 1080, 2160)] == [
        None, "sd", "sd", "hd", "full-hd", "uhd"]  # fmt: skip
    assert [duration_class(s) for s in (None, 3, 10, 59, 600)] == [
        None, "under-10s", "under-1m", "under-1m", "10m-or-more"]  # fmt: skip


# -- end to end: real text through the real embedding model ---------------------------------------------


@pytest.mark.slow
def test_german_text_after_english_is_flagged_and_more_english_is_not(settings: Settings, media_dir: Path) -> None:
    chunks = {"text_chunk_chars": 60, "text_chunk_overlap_chars": 0}  # about a sentence a chunk
    settings = settings.model_copy(update={"drift_min_items": 10, **chunks})
    with closing(Mediasift(settings)) as system:
        for index in range(12):  # the baseline: English, three days ago
            mediagen.make_text_file(media_dir / f"en{index}.txt", sentences(EN, 3, index, "The"))
        system.ingest([media_dir], wait=True)
        _age(system, days=3)

        fresh = media_dir / "fresh"
        fresh.mkdir()
        for index in range(12):  # a fresh sample of the same distribution, now
            mediagen.make_text_file(fresh / f"en{index}.txt", sentences(EN, 3, 100 + index, "The"))
        system.ingest([fresh], wait=True)
        steady = system.status().drift
        assert steady is not None
        # the text model's vectors; a chunk lingua takes for another language also has e5's
        model = system.inference.text_ref.id
        entry = steady.embeddings[model]
        assert entry.recent >= 36 and entry.baseline >= 36  # a sentence or more per chunk
        assert entry.centroid_shift is not None and entry.centroid_shift < CENTROID_SHIFT, entry
        assert entry.shifted is False
        assert steady.inputs["language"].psi == pytest.approx(0.0) and steady.inputs["language"].shifted is False

        _age(system, days=2)  # the English now makes the baseline; German arrives
        german = media_dir / "german"
        german.mkdir()
        for index in range(12):
            mediagen.make_text_file(german / f"de{index}.txt", sentences(DE, 3, 200 + index, "Die"))
        system.ingest([german], wait=True)
        drift = system.status().drift
        assert drift is not None
        moved = drift.embeddings[model]
        assert moved.recent >= 36 and moved.baseline == entry.recent + entry.baseline
        assert moved.centroid_shift is not None and moved.centroid_shift >= CENTROID_SHIFT and moved.shifted, moved
        language = drift.inputs["language"]
        assert language.recent == {"de": 1.0} and language.baseline == {"en": 1.0} and language.shifted is True

        families = {f.name: f for f in text_string_to_metric_families(system.metrics_text())}
        (shift,) = [s for s in families["mediasift_embedding_centroid_shift"].samples if s.labels["model"] == model]
        assert shift.value == pytest.approx(moved.centroid_shift, abs=1e-3)
        samples = families["mediasift_drift_shifted"].samples
        verdicts = {(s.labels["signal"], s.labels["name"]): s.value for s in samples}
        assert verdicts[("embedding", model)] == 1 and verdicts[("inputs", "language")] == 1

    env = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
           "MEDIASIFT_DRIFT_MIN_ITEMS": "10"}  # fmt: skip
    shown = CliRunner(env=env).invoke(app, ["status"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    embeddings = rf"embeddings {re.escape(model)}: centroid shift [\d.]+ radii, spread x[\d.]+ .* vectors\) SHIFTED"
    assert re.search(embeddings, text)
    assert re.search(r"inputs language: de 100% \(drift [\d.]+\) SHIFTED", text)


def _age(system: Mediasift, days: int) -> None:
    """Move everything made so far ``days`` into the past."""
    with system.db.connect() as conn:
        conn.execute(f"UPDATE embeddings SET created_at = created_at - interval '{days} days'")
        conn.execute(f"UPDATE assets SET created_at = created_at - interval '{days} days'")
        conn.execute(
            f"UPDATE operator_runs SET started_at = started_at - interval '{days} days',"
            f" finished_at = finished_at - interval '{days} days'"
        )
