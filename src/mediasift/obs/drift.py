"""Drift beyond confidence: are the embeddings, or the inputs themselves, unlike the baseline?

**Embeddings**, per model: the recent window's vectors (the last ``drift_window_h`` hours) against
the baseline's (the ``drift_baseline_days`` before), by two figures in units of the baseline's own
spread (its RMS distance from its centroid), so that they read the same for any model and dimension:

- *centroid shift*: how far the recent centroid moved, in baseline radii, less what sampling alone
  explains. Two samples of one distribution have centroids ``sqrt(1/n_r + 1/n_b)`` radii apart on
  average (each centroid is off by radius/sqrt(n)), so the shift reported is
  ``sqrt(max(0, d² - 1/n_r - 1/n_b))``: about 0 for a fresh sample of the baseline whatever the
  sample sizes. At or over :data:`CENTROID_SHIFT` (half a radius) the content moved: all-German text
  after English in an English model lands in another part of the space, dark frames after daylight
  too.
- *spread ratio*: the recent spread over the baseline's. Outside ``[1/SPREAD_RATIO, SPREAD_RATIO]``
  the recent inputs are far more alike (a stuck camera, one file repeated) or far more varied.

**Inputs**: the mix of resolutions (the picture's short side), durations and languages of the assets
created in each window, compared by the population stability index over their categories (the
reading of :mod:`mediasift.obs.quality`: at or over 0.25 a real shift).

Both are computed only when each window has ``drift_min_items`` vectors or assets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.db import ops as ops_repo
from mediasift.db.quality import Conn
from mediasift.obs.quality import SHIFT_PSI, population_stability

CENTROID_SHIFT = 0.5  # baseline radii, beyond sampling noise
SPREAD_RATIO = 1.5
SAMPLE = 2000  # most vectors per window read per model
LANGUAGES = 8  # languages named in the mix; the rest are "other" (a bounded label set)

Vectors = npt.NDArray[np.float32]


def embedding_shift(recent: Vectors, baseline: Vectors) -> tuple[float, float]:
    """(centroid shift beyond sampling noise, spread ratio) of ``recent`` against ``baseline``, both
    in units of the baseline's RMS radius. Each needs two vectors or more."""
    r, b = recent.astype(np.float64), baseline.astype(np.float64)
    centre_b, centre_r = b.mean(axis=0), r.mean(axis=0)
    spread_b = math.sqrt(float(((b - centre_b) ** 2).sum(axis=1).mean()))
    spread_r = math.sqrt(float(((r - centre_r) ** 2).sum(axis=1).mean()))
    if spread_b == 0.0:
        moved = float(np.linalg.norm(centre_r - centre_b)) > 0 or spread_r > 0
        return (math.inf, math.inf) if moved else (0.0, 1.0)
    distance = float(np.linalg.norm(centre_r - centre_b)) / spread_b
    noise = 1.0 / len(r) + 1.0 / len(b)
    return math.sqrt(max(0.0, distance**2 - noise)), spread_r / spread_b


def embedding_shifted(shift: float, spread_ratio: float) -> bool:
    return shift >= CENTROID_SHIFT or not (1 / SPREAD_RATIO <= spread_ratio <= SPREAD_RATIO)


def embedding_report(conn: Conn, settings: Settings) -> dict[str, dict[str, Any]]:
    """``{model: {"recent": n, "baseline": n, "centroid_shift": float | None, "spread_ratio": float | None,
    "shifted": bool}}`` for every model with vectors in either window."""
    recent_s, horizon_s = _windows(settings)
    report: dict[str, dict[str, Any]] = {}
    for model in ops_repo.embedding_models(conn, horizon_s):
        recent, baseline = ops_repo.embedding_sample(conn, model, recent_s, horizon_s, SAMPLE)
        entry: dict[str, Any] = {"recent": len(recent), "baseline": len(baseline), "centroid_shift": None,
                                 "spread_ratio": None, "shifted": False}  # fmt: skip
        if min(len(recent), len(baseline)) >= max(2, settings.drift_min_items) and recent.shape[1] == baseline.shape[1]:
            shift, ratio = embedding_shift(recent, baseline)
            entry |= {"centroid_shift": round(shift, 4), "spread_ratio": round(ratio, 4),
                      "shifted": embedding_shifted(shift, ratio)}  # fmt: skip
        report[model] = entry
    return report


# -- the mix of inputs ----------------------------------------------------------------------------------


def resolution_class(short_side: float | None) -> str | None:
    """The picture's short side as a class: sd (to 480), hd (to 720), full-hd (to 1080), uhd."""
    if short_side is None:
        return None
    for limit, name in ((480, "sd"), (720, "hd"), (1080, "full-hd")):
        if short_side <= limit:
            return name
    return "uhd"


def duration_class(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    for limit, name in ((10, "under-10s"), (60, "under-1m"), (600, "under-10m")):
        if seconds < limit:
            return name
    return "10m-or-more"


def input_mix_report(conn: Conn, settings: Settings) -> dict[str, dict[str, Any]]:
    """``{dimension: {"recent": {category: share}, "baseline": {...}, "counts": {"recent": n,
    "baseline": n}, "psi": float | None, "shifted": bool}}`` for resolution, duration and language."""
    recent_s, horizon_s = _windows(settings)
    rows = ops_repo.input_mix(conn, recent_s, horizon_s)
    languages = Counter(row["language"] for row in rows if row["language"])
    named = {code for code, _ in languages.most_common(LANGUAGES)}
    classify = {
        "resolution": lambda row: resolution_class(row["short_side"]),
        "duration": lambda row: duration_class(row["duration"]),
        "language": lambda row: row["language"] and (row["language"] if row["language"] in named else "other"),
    }
    return {
        dimension: mix_entry(
            [(row["recent"], category) for row in rows if (category := of(row))], settings.drift_min_items
        )
        for dimension, of in classify.items()
    }


def mix_entry(observations: Iterable[tuple[bool, str]], min_items: int) -> dict[str, Any]:
    """Shares of each category in the recent window and the baseline, and their PSI (None when either
    has fewer than ``min_items``)."""
    recent: Counter[str] = Counter()
    baseline: Counter[str] = Counter()
    for is_recent, category in observations:
        (recent if is_recent else baseline)[category] += 1
    n_r, n_b = sum(recent.values()), sum(baseline.values())
    entry: dict[str, Any] = {
        "recent": {c: round(n / n_r, 4) for c, n in sorted(recent.items())},
        "baseline": {c: round(n / n_b, 4) for c, n in sorted(baseline.items())},
        "counts": {"recent": n_r, "baseline": n_b},
        "psi": None,
        "shifted": False,
    }
    if min(n_r, n_b) >= max(1, min_items):
        categories = sorted(set(recent) | set(baseline))
        psi = population_stability([recent[c] for c in categories], [baseline[c] for c in categories])
        entry["psi"], entry["shifted"] = round(psi, 4), psi >= SHIFT_PSI
    return entry


def _windows(settings: Settings) -> tuple[float, float]:
    recent_s = settings.drift_window_h * 3600
    return recent_s, recent_s + settings.drift_baseline_days * 86400
