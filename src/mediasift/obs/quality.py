"""Confidence distributions and their drift: is a model suddenly less sure of what it sees?

For each operator and kind of result, the results of the last ``drift_window_h`` hours are compared
with those of the ``drift_baseline_days`` before them by the population stability index over ten
equal bins of confidence: sum((r - b) * ln(r / b)) over the bins' shares. The usual reading: under
0.1 stable, 0.1-0.25 a moderate shift, over 0.25 a real one (new kinds of media, a broken input path, a
changed model). It is computed only when both windows have ``drift_min_items`` results; a share of
zero counts as 0.0001, so an empty bin does not make it infinite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mediasift.config import Settings
from mediasift.db import quality as quality_repo
from mediasift.db.quality import BINS, Conn

EMPTY_SHARE = 1e-4
SHIFT_PSI = 0.25  # at or over this, "shifted" is true


def population_stability(recent: Sequence[float], baseline: Sequence[float]) -> float:
    """PSI of two histograms over the same bins (counts or shares)."""
    r_total, b_total = sum(recent), sum(baseline)
    psi = 0.0
    for r, b in zip(recent, baseline, strict=True):
        r_share, b_share = max(r / r_total, EMPTY_SHARE), max(b / b_total, EMPTY_SHARE)
        psi += (r_share - b_share) * math.log(r_share / b_share)
    return psi


def confidence_report(conn: Conn, settings: Settings) -> dict[str, dict[str, Any]]:
    """``{operator: {kind: {"recent": {...}, "baseline": {...}, "psi": float | None, "shifted": bool}}}``;
    each window has ``count``, ``mean``, ``p10``, ``p50``, ``p90`` (None without results) and ``bins``
    (results per tenth of [0, 1])."""
    recent_s, baseline_s = settings.drift_window_h * 3600, settings.drift_baseline_days * 86400
    report: dict[str, dict[str, Any]] = {}
    for row in quality_repo.confidence_summary(conn, recent_s, baseline_s):
        entry = report.setdefault(row["operator"], {}).setdefault(row["kind"], _empty())
        p10, p50, p90 = row["quantiles"]
        entry["recent" if row["recent"] else "baseline"] = {
            "count": row["n"], "mean": round(float(row["mean"]), 4),
            "p10": round(p10, 4), "p50": round(p50, 4), "p90": round(p90, 4),
        }  # fmt: skip
    bins: dict[tuple[str, str, bool], list[int]] = {}
    for row in quality_repo.confidence_bins(conn, recent_s, baseline_s):
        bins.setdefault((row["operator"], row["kind"], row["recent"]), [0] * BINS)[row["bin"] - 1] = row["n"]
    for operator, kinds in report.items():
        for kind, entry in kinds.items():
            recent, baseline = bins.get((operator, kind, True)), bins.get((operator, kind, False))
            entry["recent"]["bins"], entry["baseline"]["bins"] = recent or [0] * BINS, baseline or [0] * BINS
            if recent and baseline and min(sum(recent), sum(baseline)) >= settings.drift_min_items:
                psi = population_stability(recent, baseline)
                entry["psi"], entry["shifted"] = round(psi, 4), psi >= SHIFT_PSI
    return report


def _empty() -> dict[str, Any]:
    nothing = {"count": 0, "mean": None, "p10": None, "p50": None, "p90": None}
    return {"recent": dict(nothing), "baseline": dict(nothing), "psi": None, "shifted": False}
