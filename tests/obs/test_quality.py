"""Confidence distributions and drift: results that suddenly look unlike the baseline are flagged."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediasift.config import Settings
from mediasift.obs.quality import SHIFT_PSI, population_stability
from mediasift.service import Mediasift

from support import mediagen

CLEAR = [
    "The lighthouse keepers of the North Atlantic kept the lamps burning through every winter storm.",
    "Our village library opens a new reading room for children on the first Saturday of May.",
    "The committee approved the budget for the new bridge after a long discussion on Tuesday.",
    "Fresh bread from the bakery on the corner sells out before nine o'clock every morning.",
]
AMBIGUOUS = ["sim sala bim", "taxi hotel radio", "pizza pasta", "hola hello bonjour"]


def test_identical_histograms_do_not_drift_and_a_moved_one_does() -> None:
    even = [10] * 10
    assert population_stability(even, even) == 0.0
    assert population_stability([1, 2, 3, 4, 5, 5, 4, 3, 2, 1], [2, 4, 6, 8, 10, 10, 8, 6, 4, 2]) == pytest.approx(0)
    high, low = [0] * 9 + [40], [10, 10, 10, 10] + [0] * 6
    assert population_stability(low, high) > SHIFT_PSI * 10, "an empty bin counts as tiny, not as zero"
    assert 0 < population_stability([9, 11] * 5, [10, 10] * 5) < 0.1


@pytest.mark.slow
def test_status_and_metrics_flag_a_shift_in_confidence(settings: Settings, media_dir: Path) -> None:
    settings = settings.model_copy(update={"drift_min_items": 3})
    with closing(Mediasift(settings)) as system:
        for index, text in enumerate(CLEAR):
            mediagen.make_text_file(media_dir / f"clear{index}.txt", text)
        system.ingest([media_dir], wait=True)
        with system.db.connect() as conn:  # these ran three days ago: the baseline
            conn.execute(
                "UPDATE operator_runs SET started_at = started_at - interval '3 days',"
                " finished_at = finished_at - interval '3 days'"
            )
        steady = system.status().confidence["text_chunks"]["text_chunk"]
        assert steady.recent.count == 0 and steady.baseline.count == len(CLEAR)
        assert steady.baseline.p50 is not None and steady.baseline.p50 > 0.99
        assert steady.psi is None, "nothing recent to compare"

        for index, text in enumerate(AMBIGUOUS):
            mediagen.make_text_file(media_dir / f"odd{index}.txt", text)
        system.ingest([media_dir], wait=True)
        entry = system.status().confidence["text_chunks"]["text_chunk"]
        assert entry.recent.count == len(AMBIGUOUS) and entry.baseline.count == len(CLEAR)
        assert entry.recent.p50 is not None and entry.baseline.p10 is not None
        assert entry.recent.p50 < 0.8 < entry.baseline.p10
        assert entry.psi is not None and entry.psi >= SHIFT_PSI and entry.shifted is True

        families = {f.name: f for f in text_string_to_metric_families(system.metrics_text())}
        psi = {s.labels["operator"]: s.value for s in families["mediasift_confidence_drift_psi"].samples}
        assert psi["text_chunks"] == pytest.approx(entry.psi, abs=1e-3)
        medians = {
            s.labels["window"]: s.value
            for s in families["mediasift_confidence"].samples
            if s.labels["operator"] == "text_chunks" and s.labels["quantile"] == "0.5"
        }
        assert medians["recent"] < medians["baseline"]
