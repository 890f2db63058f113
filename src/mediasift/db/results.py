"""Repository for what operators produce: runs (lineage), segments, artifacts and embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from mediasift.db import people as people_repo
from mediasift.db.search import ensure_text_index, ensure_vector_index, link_text_vectors
from mediasift.records import OperatorResult, StoredSegment

Conn = Connection[dict[str, Any]]

# An operator run's lineage as the pipeline reads it back (read_runs, and replace_results' answer).
RUN_COLUMNS = (
    "operator, operator_version, params_hash, model, model_version, status, error, started_at, finished_at, "
    "duration_ms, core_ms, cost"
)


@dataclass(frozen=True)
class RunRecord:
    """The lineage of one operator run on one asset."""

    asset_id: UUID
    operator: str
    operator_version: str
    params: dict[str, Any]
    params_hash: str
    model: str | None
    model_version: str | None
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    core_ms: float | None = None  # its share of the cores (mediasift.jobs.permits); None: its wall time
    status: str = "done"
    error: str | None = None
    cost: float = 0.0


def _delete_previous(conn: Conn, asset_id: UUID, operator: str) -> None:
    conn.execute("DELETE FROM artifacts WHERE asset_id = %s AND operator = %s", (asset_id, operator))
    conn.execute("DELETE FROM segments WHERE asset_id = %s AND operator = %s", (asset_id, operator))


def _upsert_run(conn: Conn, run: RunRecord) -> dict[str, Any]:
    row = conn.execute(
        f"""
        INSERT INTO operator_runs (asset_id, operator, operator_version, params_hash, params, model,
                                   model_version, status, error, started_at, finished_at, duration_ms, core_ms,
                                   cost)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (asset_id, operator) DO UPDATE SET
            operator_version = EXCLUDED.operator_version, params_hash = EXCLUDED.params_hash,
            params = EXCLUDED.params, model = EXCLUDED.model, model_version = EXCLUDED.model_version,
            status = EXCLUDED.status, error = EXCLUDED.error, started_at = EXCLUDED.started_at,
            finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, core_ms = EXCLUDED.core_ms,
            cost = EXCLUDED.cost
        RETURNING {RUN_COLUMNS}
        """,
        (
            run.asset_id, run.operator, run.operator_version, run.params_hash, Jsonb(run.params),
            run.model, run.model_version, run.status, run.error, run.started_at, run.finished_at,
            run.duration_ms, run.core_ms, run.cost,
        ),
    ).fetchone()  # fmt: skip
    assert row is not None
    return cast(dict[str, Any], row)


def record_failure(conn: Conn, run: RunRecord) -> None:
    """A failed run keeps no results: stale output of an earlier version must not pass for current."""
    _delete_previous(conn, run.asset_id, run.operator)
    _upsert_run(conn, run)


def replace_results(
    conn: Conn, run: RunRecord, result: OperatorResult, blobs: list[tuple[str, int, str]], *, previous: bool = True
) -> dict[str, Any]:
    """Replace everything ``run.operator`` produced for the asset with ``result``; return the run as
    :func:`read_runs` reads it.

    Called inside one transaction, this makes a re-run leave exactly one set of results. A caller that
    read the asset's runs in this transaction and found none of this operator says ``previous=False``:
    an operator's results are only ever stored with its run, so there is nothing to delete first.
    Embeddings of other operators' segments (``result.embeddings``: vectors of their text) are owned by
    this operator for their models: all of this asset's vectors of those models are replaced, each
    distinct text's vector stored once (``search_vectors``) and the segments pointing at it.
    """
    for sha256, size, mime in blobs:
        conn.execute(
            "INSERT INTO blobs (sha256, size_bytes, mime) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (sha256, size, mime),
        )
    if previous:
        _delete_previous(conn, run.asset_id, run.operator)
    stored_run = _upsert_run(conn, run)
    for model_id, dim in sorted({(m.id, len(v)) for seg in result.segments for m, v in seg.vectors.items()}):
        ensure_vector_index(conn, model_id, dim)
    for model_id, dim in sorted({(emb.model.id, len(emb.vector)) for emb in result.embeddings}):
        ensure_text_index(conn, model_id, dim)

    # Rows go in batches (psycopg's executemany: one round trip for all of them, not one each).
    segment_ids = _insert_segments(conn, run, result.segments)
    segment_vectors = [(segment_ids[seg.key], run.asset_id, model.id, model.version, len(vector), vector)
                       for seg in result.segments for model, vector in seg.vectors.items()]  # fmt: skip
    _insert_many(conn, _INSERT_EMBEDDING, segment_vectors)
    artifacts = [
        (run.asset_id, run.operator, art.kind, art.key,
         segment_ids[art.segment_key] if art.segment_key is not None else None,
         Jsonb(art.data), art.blob_sha256, art.confidence, run.operator_version, run.model,
         run.model_version, run.params_hash, run.duration_ms)
        for art in result.artifacts
    ]  # fmt: skip
    _insert_many(
        conn,
        """
        INSERT INTO artifacts (asset_id, operator, kind, key, segment_id, data, blob_sha256, confidence,
                               operator_version, model, model_version, params_hash, duration_ms)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        artifacts,
    )

    people_repo.insert_faces(
        conn, run.asset_id,
        [(segment_ids[f.segment_key], f.index, f.box, f.confidence, f.model.id, f.model.version, f.vector)
         for f in result.faces],
    )  # fmt: skip

    by_model: dict[tuple[str, str], list[tuple[int, Any]]] = {}
    for emb in result.embeddings:
        by_model.setdefault((emb.model.id, emb.model.version), []).append((emb.segment_id, emb.vector))
    for model_id in {model_id for model_id, _ in by_model}:
        conn.execute("DELETE FROM embeddings WHERE asset_id = %s AND model = %s", (run.asset_id, model_id))
    for (model_id, version), vectors in sorted(by_model.items()):
        link_text_vectors(conn, run.asset_id, model_id, version, vectors)
    return stored_run


def _insert_many(conn: Conn, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``statement`` for each of ``rows``, in one round trip (psycopg's ``executemany``)."""
    if rows:
        with conn.cursor() as cur:
            cur.executemany(statement, rows)


def _insert_segments(conn: Conn, run: RunRecord, segments: Sequence[Any]) -> dict[str, int]:
    """Insert the run's segments; their ids by key."""
    if not segments:
        return {}
    rows = [
        (run.asset_id, run.operator, seg.kind, seg.key, seg.start, seg.end,
         Jsonb(seg.region) if seg.region is not None else None, seg.text, seg.confidence, Jsonb(seg.data))
        for seg in segments
    ]  # fmt: skip
    ids: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO segments (asset_id, operator, kind, key, start_s, end_s, region, text, confidence, data)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id, key
            """,
            rows,
            returning=True,
        )
        while True:
            row = cur.fetchone()
            assert row is not None
            ids[row["key"]] = row["id"]
            if not cur.nextset():
                break
    return ids


_INSERT_EMBEDDING = """
    INSERT INTO embeddings (segment_id, asset_id, model, model_version, dim, embedding)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (segment_id, model) DO UPDATE SET
        model_version = EXCLUDED.model_version, dim = EXCLUDED.dim, embedding = EXCLUDED.embedding,
        created_at = now()
"""


def read_segments(
    conn: Conn, asset_id: UUID, *, operator: str | None = None, kind: str | None = None
) -> list[StoredSegment]:
    rows = conn.execute(
        """
        SELECT id, operator, kind, key, start_s, end_s, region, text, confidence, data FROM segments
        WHERE asset_id = %(asset)s
          AND (%(operator)s::text IS NULL OR operator = %(operator)s)
          AND (%(kind)s::text IS NULL OR kind = %(kind)s)
        ORDER BY start_s NULLS FIRST, operator, key
        """,
        {"asset": asset_id, "operator": operator, "kind": kind},
    ).fetchall()
    return [_segment(r) for r in rows]


def read_segments_of_kinds(conn: Conn, asset_id: UUID, kinds: Sequence[str]) -> list[StoredSegment]:
    """The asset's segments of any of ``kinds``, whichever operator made them, in order of start, then
    end (untimed ones first)."""
    rows = conn.execute(
        """
        SELECT id, operator, kind, key, start_s, end_s, region, text, confidence, data FROM segments
        WHERE asset_id = %s AND kind = ANY(%s)
        ORDER BY start_s NULLS FIRST, end_s NULLS FIRST, operator, key
        """,
        (asset_id, list(kinds)),
    ).fetchall()
    return [_segment(r) for r in rows]


def _segment(r: dict[str, Any]) -> StoredSegment:
    return StoredSegment(
        id=r["id"], operator=r["operator"], kind=r["kind"], key=r["key"], start=r["start_s"], end=r["end_s"],
        region=r["region"], text=r["text"], confidence=r["confidence"], data=r["data"],
    )  # fmt: skip


def read_runs(conn: Conn, asset_id: UUID) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM operator_runs WHERE asset_id = %s ORDER BY started_at", (asset_id,)
    ).fetchall()
    return {row["operator"]: row for row in rows}


def read_artifacts(conn: Conn, asset_id: UUID) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT a.operator, a.kind, a.key, a.data, a.blob_sha256, a.confidence, a.operator_version,
               a.model, a.model_version, a.params_hash, a.duration_ms, a.created_at,
               s.start_s AS start, s.end_s AS end, s.text
        FROM artifacts a LEFT JOIN segments s ON s.id = a.segment_id
        WHERE a.asset_id = %s ORDER BY a.operator, s.start_s NULLS FIRST, a.key
        """,
        (asset_id,),
    ).fetchall()


def cost_by_media_type(conn: Conn) -> list[dict[str, Any]]:
    """Per media type: the assets with at least one run, what their model calls cost in all, and
    their runs' summed duration (the current runs: a re-run replaces its predecessor)."""
    return conn.execute(
        "SELECT a.media_type, count(DISTINCT r.asset_id) AS assets, sum(r.cost) AS cost_usd,"
        " sum(r.duration_ms) AS duration_ms FROM operator_runs r JOIN assets a ON a.id = r.asset_id"
        " GROUP BY a.media_type ORDER BY a.media_type"
    ).fetchall()


def count_embeddings(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT model, dim, count(*) AS n FROM embeddings GROUP BY model, dim ORDER BY model"
    ).fetchall()
