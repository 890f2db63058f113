"""Confidence SQL: what the models were sure of, per operator and kind of result, in a recent window
and in the baseline before it. A result's time is its operator run's finish."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

Conn = Connection[dict[str, Any]]

BINS = 10  # equal-width confidence bins over [0, 1] for the drift measure

_WINDOWED = """
    SELECT s.operator, s.kind, s.confidence,
           r.finished_at >= now() - make_interval(secs => %(recent_s)s) AS recent
    FROM segments s JOIN operator_runs r ON r.asset_id = s.asset_id AND r.operator = s.operator
    WHERE s.confidence IS NOT NULL AND r.finished_at >= now() - make_interval(secs => %(horizon_s)s)
"""


def confidence_summary(conn: Conn, recent_s: float, baseline_s: float) -> list[dict[str, Any]]:
    """Per operator, kind and window (recent or not): count, mean and the 10th, 50th, 90th percentiles."""
    return conn.execute(
        f"""
        SELECT operator, kind, recent, count(*) AS n, avg(confidence) AS mean,
               percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY confidence) AS quantiles
        FROM ({_WINDOWED}) w GROUP BY operator, kind, recent ORDER BY operator, kind, recent
        """,
        {"recent_s": recent_s, "horizon_s": recent_s + baseline_s},
    ).fetchall()


def confidence_bins(conn: Conn, recent_s: float, baseline_s: float) -> list[dict[str, Any]]:
    """Per operator, kind and window: how many results fell in each of :data:`BINS` bins (1..BINS)."""
    return conn.execute(
        f"""
        SELECT operator, kind, recent, least(greatest(width_bucket(confidence, 0, 1, {BINS}), 1), {BINS}) AS bin,
               count(*) AS n
        FROM ({_WINDOWED}) w GROUP BY operator, kind, recent, bin
        """,
        {"recent_s": recent_s, "horizon_s": recent_s + baseline_s},
    ).fetchall()
