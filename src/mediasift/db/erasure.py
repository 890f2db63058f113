"""Repository for deleting an asset: its rows, the cached model results its analysis stored, the
blob rows nothing else references, and the content its audit rows copied.

Blob bytes live outside the database, so a blob row and its bytes cannot go in one transaction. The
invariant kept is that a committed blob row always has its bytes in the store. One lock per digest
(:func:`lock_blobs`, a transaction-scoped advisory lock) keeps a concurrent writer of the same bytes
(another tenant's ingest, a worker storing the same thumbnail) from losing them; every party takes it:

- deletion, in its transaction, before it looks for references to the asset's blobs; it deletes
  the rows nothing references and commits;
- deletion again, after the commit, around removing each blob's bytes, which it does only when the
  row is still absent (:func:`blob_unreferenced`): bytes a writer recorded since then stay;
- a writer, in the transaction that records the blob row, after storing the bytes and before
  committing: when the row is absent (:func:`missing_blob_rows`) it checks the bytes are still
  there, and stores them again (ingest) or tries the job again (a worker) if not. A row present
  under the lock cannot lose its bytes: deletion removes bytes only while there is none.

Each of these runs whole under the lock, so either the writer's row commits first (and deletion keeps
the bytes) or deletion's removal runs first (and the writer puts them back). Locks are taken in one
order, so no two holders wait on each other in a circle: an asset's job lock (deletion and workers),
then digest locks in sorted order, then rows (ingest takes a digest lock before any row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from mediasift.db.connection import Database
from mediasift.db.job_states import lock_asset

Conn = Connection[dict[str, Any]]

REDACTED = '{"redacted": true}'


@dataclass(frozen=True)
class Erased:
    """What deleting an asset took: its tenant, the blob rows removed (their bytes are the caller's
    to remove after the commit), and counts for the report."""

    tenant: str
    blobs: list[str]
    cached_results: int
    audit_rows_redacted: int


def lock_blobs(conn: Conn, sha256s: Iterable[str]) -> None:
    """Hold the lock of each digest until the transaction ends, in one order (no deadlock between
    two holders of several)."""
    for sha256 in sorted(set(sha256s)):
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('blob:' || %s, 0))", (sha256,))


def missing_blob_rows(conn: Conn, sha256s: Iterable[str]) -> list[str]:
    """Those of the digests that have no blob row: bytes of these may have been removed by a deletion
    just before the caller took their locks."""
    wanted = sorted(set(sha256s))
    rows = conn.execute("SELECT sha256 FROM blobs WHERE sha256 = ANY(%s)", (wanted,)).fetchall()
    present = {row["sha256"] for row in rows}
    return [sha256 for sha256 in wanted if sha256 not in present]


def erase_asset(conn: Conn, asset_id: UUID, tenant: str | None) -> Erased | None:
    """Delete the asset (None unless it exists and is ``tenant``'s; any tenant's when None) and all
    that hangs off it, in the caller's transaction.

    Locks are taken in the order every other holder takes them, so none waits on another in a
    circle: the asset's job lock (workers take it before their results; under it the asset's
    artifacts cannot change), then the locks of its blobs (the original and its artifacts'), then
    rows. Then removed: cached model results its analysis stored, the asset row (segments,
    artifacts, embeddings, runs, sources and job states go with it by cascade), blob rows no asset or
    artifact references any more; and the ``detail`` of every audit row of the asset, its sources,
    runs and removed blobs (the rows these deletes just wrote included) is redacted."""
    lock_asset(conn, asset_id)
    row = conn.execute(
        "SELECT tenant, sha256 FROM assets WHERE id = %(id)s AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s)",
        {"id": asset_id, "tenant": tenant},
    ).fetchone()
    if row is None:
        return None
    blobs = {row["sha256"]} | {
        r["blob_sha256"]
        for r in conn.execute(
            "SELECT DISTINCT blob_sha256 FROM artifacts WHERE asset_id = %s AND blob_sha256 IS NOT NULL", (asset_id,)
        ).fetchall()
    }
    lock_blobs(conn, blobs)
    cached = forget_cached_results(conn, asset_id)
    conn.execute("DELETE FROM assets WHERE id = %s", (asset_id,))
    removed = [
        r["sha256"]
        for r in conn.execute(
            """
            DELETE FROM blobs b WHERE b.sha256 = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.sha256 = b.sha256)
              AND NOT EXISTS (SELECT 1 FROM artifacts r WHERE r.blob_sha256 = b.sha256)
            RETURNING b.sha256
            """,
            (sorted(blobs),),
        ).fetchall()
    ]
    redacted = conn.execute(
        f"""
        UPDATE audit_log SET detail = '{REDACTED}'::jsonb,
            entity_id = CASE WHEN entity = 'asset_sources' THEN %(id)s || ':source' ELSE entity_id END
        WHERE split_part(entity_id, ':', 1) = ANY(%(subjects)s) AND detail <> '{REDACTED}'::jsonb
        """,
        {"id": str(asset_id), "subjects": [str(asset_id), *removed]},
    ).rowcount
    return Erased(tenant=row["tenant"], blobs=sorted(removed), cached_results=cached, audit_rows_redacted=redacted)


def forget_cached_results(conn: Conn, asset_id: UUID) -> int:
    """Remove the cached model results the asset's analysis stored; how many there were. A job of
    the asset in flight during its deletion may store more after it: that job calls this again when
    it finds the asset gone."""
    return conn.execute("DELETE FROM inference_cache WHERE asset_id = %s", (asset_id,)).rowcount


def blob_unreferenced(conn: Conn, sha256: str) -> bool:
    """Under the digest's lock: whether its bytes may go (no blob row records them: no writer has
    recorded them again since the deletion)."""
    lock_blobs(conn, [sha256])
    return conn.execute("SELECT 1 FROM blobs WHERE sha256 = %s", (sha256,)).fetchone() is None


def remove_unreferenced_bytes(db: Database, sha256s: Iterable[str], delete: Callable[[str], None]) -> list[str]:
    """``delete`` (the blob store's) the bytes of each digest no blob row records, each under its
    lock in a short transaction of its own; the digests whose bytes went."""
    removed = []
    for sha256 in sorted(set(sha256s)):
        with db.transaction() as conn:
            if blob_unreferenced(conn, sha256):
                delete(sha256)
                removed.append(sha256)
    return removed
