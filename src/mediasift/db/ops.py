"""Operations SQL: what the runs cost and took per media type and operator, how long they took as a
histogram, how old the oldest queued job is, samples of recent and baseline embeddings, and the mix
of inputs (resolution, duration, language) in the recent window and the baseline before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import Connection

Conn = Connection[dict[str, Any]]


def operator_totals(conn: Conn, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per media type, operator and run status (the current runs: a re-run replaces its predecessor),
    finished at or after ``since`` when given: runs, assets, summed cost (USD) and core time (ms: each
    run's share of the cores, its duration where none was counted)."""
    return conn.execute(
        """
        SELECT a.media_type, r.operator, r.status, count(*) AS runs, count(DISTINCT r.asset_id) AS assets,
               coalesce(sum(r.cost), 0) AS cost_usd, coalesce(sum(coalesce(r.core_ms, r.duration_ms)), 0) AS core_ms
        FROM operator_runs r JOIN assets a ON a.id = r.asset_id
        WHERE %(since)s::timestamptz IS NULL OR r.finished_at >= %(since)s::timestamptz
        GROUP BY a.media_type, r.operator, r.status ORDER BY a.media_type, r.operator, r.status
        """,
        {"since": since},
    ).fetchall()


def assets_analysed(conn: Conn, since: datetime | None = None) -> dict[str, int]:
    """Per media type, the assets with at least one run finished at or after ``since`` (any when None)."""
    rows = conn.execute(
        """
        SELECT a.media_type, count(DISTINCT r.asset_id) AS n FROM operator_runs r JOIN assets a ON a.id = r.asset_id
        WHERE %(since)s::timestamptz IS NULL OR r.finished_at >= %(since)s::timestamptz GROUP BY a.media_type
        """,
        {"since": since},
    ).fetchall()
    return {row["media_type"]: row["n"] for row in rows}


def media_seconds(conn: Conn, since: datetime | None = None) -> dict[str, float]:
    """Per media type, the summed length in seconds (``metadata.duration``) of the assets with at
    least one run finished at or after ``since`` (any when None); types without a length are absent."""
    rows = conn.execute(
        """
        SELECT a.media_type, sum((a.metadata->>'duration')::float8) AS seconds FROM assets a
        WHERE jsonb_typeof(a.metadata->'duration') = 'number' AND EXISTS (
            SELECT 1 FROM operator_runs r WHERE r.asset_id = a.id
            AND (%(since)s::timestamptz IS NULL OR r.finished_at >= %(since)s::timestamptz))
        GROUP BY a.media_type
        """,
        {"since": since},
    ).fetchall()
    return {row["media_type"]: float(row["seconds"]) for row in rows}


def run_seconds_histogram(conn: Conn, bounds: Sequence[float]) -> list[dict[str, Any]]:
    """Per operator, its current successful runs' durations as cumulative counts (``le``) at each
    upper bound in ``bounds`` (seconds, ascending), with their count (``n``) and sum (``sum_s``)."""
    totals = conn.execute(
        "SELECT operator, count(*) AS n, sum(duration_ms) / 1000.0 AS sum_s FROM operator_runs"
        " WHERE status = 'done' GROUP BY operator ORDER BY operator"
    ).fetchall()
    counts = conn.execute(
        """
        SELECT r.operator, b.i, count(*) FILTER (WHERE r.duration_ms <= b.bound * 1000) AS le
        FROM operator_runs r CROSS JOIN unnest(%(bounds)s::float8[]) WITH ORDINALITY AS b(bound, i)
        WHERE r.status = 'done' GROUP BY r.operator, b.i
        """,
        {"bounds": list(bounds)},
    ).fetchall()
    cumulative: dict[str, list[int]] = {}
    for row in counts:
        cumulative.setdefault(row["operator"], [0] * len(bounds))[row["i"] - 1] = row["le"]
    return [{**row, "le": cumulative.get(row["operator"], [0] * len(bounds))} for row in totals]


def oldest_queued_age(conn: Conn) -> dict[str, float]:
    """Per lane, how many seconds the longest-waiting queued job has waited."""
    rows = conn.execute(
        "SELECT lane, extract(epoch FROM now() - min(updated_at)) AS age_s FROM asset_jobs"
        " WHERE state = 'queued' GROUP BY lane"
    ).fetchall()
    return {row["lane"]: float(row["age_s"]) for row in rows}


def embedding_models(conn: Conn, horizon_s: float) -> list[str]:
    """The embedding models with vectors made in the last ``horizon_s`` seconds. The models are
    walked one index step each (a loose index scan), not by reading every embedding row."""
    rows = conn.execute(
        """
        WITH RECURSIVE models AS (
            SELECT min(model) AS model FROM embeddings
            UNION ALL
            SELECT (SELECT min(e.model) FROM embeddings e WHERE e.model > models.model)
            FROM models WHERE models.model IS NOT NULL
        )
        SELECT model FROM models
        WHERE model IS NOT NULL AND EXISTS (
            SELECT 1 FROM embeddings e
            WHERE e.model = models.model AND e.created_at >= now() - make_interval(secs => %s)
        )
        ORDER BY model
        """,
        (horizon_s,),
    ).fetchall()
    return [row["model"] for row in rows]


def embedding_sample(
    conn: Conn, model: str, recent_s: float, horizon_s: float, limit: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The latest ``limit`` vectors of ``model`` made in the last ``recent_s`` seconds, and the latest
    ``limit`` made in the baseline before them (back to ``horizon_s`` ago), each as an (n, dim) array.
    A segment's vector is its own or the one it shares with equal texts (``search_vectors``)."""
    windows = []
    for lower, upper in ((recent_s, 0.0), (horizon_s, recent_s)):
        rows = conn.execute(
            """
            SELECT coalesce(e.embedding, v.embedding)::vector AS embedding
            FROM embeddings e LEFT JOIN search_vectors v ON v.id = e.search_vector_id
            WHERE e.model = %(model)s AND e.created_at >= now() - make_interval(secs => %(lower)s)
              AND e.created_at < now() - make_interval(secs => %(upper)s)
            ORDER BY e.created_at DESC LIMIT %(limit)s
            """,
            {"model": model, "lower": lower, "upper": upper, "limit": limit},
        ).fetchall()
        vectors = [np.asarray(row["embedding"].to_numpy(), dtype=np.float32) for row in rows]
        windows.append(np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32))
    return windows[0], windows[1]


def input_mix(conn: Conn, recent_s: float, horizon_s: float) -> list[dict[str, Any]]:
    """The assets created in the last ``horizon_s`` seconds: media type, the picture's short side
    (pixels), duration (s), language (the text's, else the transcript's), and whether each is in the
    recent window."""
    return conn.execute(
        """
        SELECT a.media_type, (a.metadata->>'duration')::float8 AS duration,
               least((a.metadata->>'width')::float8, (a.metadata->>'height')::float8) AS short_side,
               coalesce(a.metadata->>'language',
                        (SELECT t.data->>'language' FROM artifacts t
                         WHERE t.asset_id = a.id AND t.operator = 'transcribe' AND t.kind = 'transcript' LIMIT 1))
                   AS language,
               a.created_at >= now() - make_interval(secs => %(recent_s)s) AS recent
        FROM assets a WHERE a.created_at >= now() - make_interval(secs => %(horizon_s)s)
        """,
        {"recent_s": recent_s, "horizon_s": horizon_s},
    ).fetchall()
