"""Confidence distributions and drift: results that suddenly look unlike the baseline are flagged."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediasift.config import Settings
from mediasift.db.connection import Database
from mediasift.obs.quality import SHIFT_PSI, confidence_report, population_stability
from mediasift.records import OperatorResult, SegmentOut
from mediasift.service import Mediasift

from support import mediagen, stored

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


# ------------------------------------------------------------------- the windows and the gates
#
# Results stored as operator runs finished at chosen times (hours ago), each scenario under an
# operator of its own so that one database holds several; read back by the report ``status`` gives.


def _results(conn: Any, operator: str, confidences: list[float], hours_ago: float) -> None:
    asset_id = stored.add_asset(conn, f"{operator}-{uuid4().hex}", "image")
    segments = [SegmentOut(kind="found", key=f"s{i}", confidence=c) for i, c in enumerate(confidences)]
    finished = datetime.now(UTC) - timedelta(hours=hours_ago)
    stored.add_run(conn, asset_id, operator, OperatorResult(segments=segments), finished=finished)


def _report(settings: Settings) -> dict[str, Any]:
    with Database(settings).connect() as conn:
        return {operator: kinds["found"] for operator, kinds in confidence_report(conn, settings).items()}


def _counts(entry: dict[str, Any]) -> tuple[int, int]:
    return entry["recent"]["count"], entry["baseline"]["count"]


def test_the_recent_window_is_the_last_24_hours(settings: Settings) -> None:
    """One result finished 22 h ago (inside the window) and two 26 h ago (just past it: baseline)."""
    with Database(settings).transaction() as conn:
        _results(conn, "edge", [0.9], hours_ago=22)
        _results(conn, "edge", [0.9, 0.9], hours_ago=26)
    assert _counts(_report(settings)["edge"]) == (1, 2)
    assert _counts(_report(settings.model_copy(update={"drift_window_h": 27.0}))["edge"]) == (3, 0)
    assert _counts(_report(settings.model_copy(update={"drift_window_h": 21.0}))["edge"]) == (0, 3)


def test_the_baseline_is_the_30_days_before_the_window(settings: Settings) -> None:
    """The baseline reaches back 24 h + 30 days: a result 30 days 20 h ago is in it, two 31 days 4 h
    ago are not."""
    with Database(settings).transaction() as conn:
        _results(conn, "span", [0.9], hours_ago=1)
        _results(conn, "span", [0.9], hours_ago=30 * 24 + 20)
        _results(conn, "span", [0.9, 0.9], hours_ago=31 * 24 + 4)
    assert _counts(_report(settings)["span"]) == (1, 1)
    assert _counts(_report(settings.model_copy(update={"drift_baseline_days": 31.0}))["span"]) == (1, 3)
    assert _counts(_report(settings.model_copy(update={"drift_baseline_days": 29.5}))["span"]) == (1, 0)


def test_drift_needs_50_results_in_each_window(settings: Settings) -> None:
    """50 recent and 50 baseline results: a drift figure. 49 recent (one short): none."""
    with Database(settings).transaction() as conn:
        _results(conn, "fifty", [0.9] * 50, hours_ago=1)
        _results(conn, "fifty", [0.9] * 50, hours_ago=48)
        _results(conn, "short", [0.9] * 49, hours_ago=1)
        _results(conn, "short", [0.9] * 50, hours_ago=48)
    report = _report(settings)
    assert _counts(report["fifty"]) == (50, 50) and report["fifty"]["psi"] == 0.0
    assert _counts(report["short"]) == (49, 50) and report["short"]["psi"] is None
    assert _report(settings.model_copy(update={"drift_min_items": 49}))["short"]["psi"] == 0.0
    assert _report(settings.model_copy(update={"drift_min_items": 51}))["fifty"]["psi"] is None


def test_a_shift_is_flagged_from_psi_0_25(settings: Settings) -> None:
    """Baseline half 0.85, half 0.95; recent 75/25 (PSI 0.275: shifted) or 73/27 (PSI 0.229: not)."""
    with Database(settings).transaction() as conn:
        for operator, high in (("moved", 75), ("steady", 73)):
            _results(conn, operator, [0.85] * high + [0.95] * (100 - high), hours_ago=1)
            _results(conn, operator, [0.85] * 50 + [0.95] * 50, hours_ago=48)
    report = _report(settings)
    assert report["moved"]["psi"] == pytest.approx(0.2747, abs=1e-4) and report["moved"]["shifted"] is True
    assert report["steady"]["psi"] == pytest.approx(0.2288, abs=1e-4) and report["steady"]["shifted"] is False
