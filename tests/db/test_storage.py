"""Storage of record, on the embedded server and on a PostgreSQL reached over TCP by URL."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import psycopg
import pytest

from mediasift.blobs.local import LocalBlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import job_states
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.db.migrate import HEAD_REVISION
from mediasift.db.search import nearest_segments
from mediasift.models import ModelRef
from mediasift.pipeline.operator import params_hash
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

from support.databases import create_database
from support.registration import register, register_in_process

MODEL = ModelRef("test-model", "1")


@pytest.fixture(params=["embedded", "tcp"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    server = request.getfixturevalue("pg_server" if request.param == "embedded" else "tcp_pg_server")
    return Database(Settings(home=tmp_path / "home", database_url=create_database(server)))


def _run(asset_id: Any, version: str = "1") -> result_repo.RunRecord:
    now = datetime.now(UTC)
    return result_repo.RunRecord(
        asset_id=asset_id, operator="op", operator_version=version, params={"k": 1},
        params_hash=params_hash({"k": 1}), model=MODEL.id, model_version=MODEL.version,
        started_at=now, finished_at=now, duration_ms=1.0,
    )  # fmt: skip


def test_schema_is_migrated_to_head_with_pgvector(db: Database) -> None:
    with db.connect() as conn:
        tables = {r["tablename"] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"assets", "blobs", "asset_sources", "segments", "artifacts", "embeddings", "audit_log"} <= tables
    assert ext is not None
    assert version == {"version_num": HEAD_REVISION}


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    from alembic.script import ScriptDirectory

    from mediasift.db.migrate import alembic_config

    assert ScriptDirectory.from_config(alembic_config("postgresql://x/y")).get_current_head() == HEAD_REVISION


def test_same_bytes_are_one_asset_with_every_source(db: Database) -> None:
    first, created_first = register(db, b"hello", "/a.txt")
    second, created_second = register(db, b"hello", "/b.txt")
    other, _ = register(db, b"other", "/c.txt")
    assert first == second and created_first and not created_second
    assert other != first
    with db.connect() as conn:
        asset = asset_repo.get_asset(conn, first)
    assert asset is not None and sorted(asset.sources) == ["/a.txt", "/b.txt"]


def test_concurrent_registration_from_two_processes_gives_one_asset(db: Database, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=register_in_process, args=(db.url, str(tmp_path), queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    ids = {queue.get(timeout=5) for _ in procs}
    assert len(ids) == 1
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) AS n FROM assets").fetchone() == {"n": 1}


def test_audit_trail_records_every_change_and_is_append_only(db: Database) -> None:
    asset_id, _ = register(db, b"audited")
    with db.transaction() as conn:
        asset_repo.set_actor(conn, "tester")
        asset_repo.set_status(conn, asset_id, "done")
    with db.connect() as conn:
        trail = asset_repo.audit_trail(conn, asset_id)
        actions = [(r["entity"], r["action"], r["actor"]) for r in trail]
        assert ("assets", "insert", "test") in actions
        assert ("asset_sources", "insert", "test") in actions
        assert ("assets", "update", "tester") in actions
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE audit_log SET actor = 'forger'")
        conn.rollback()
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("DELETE FROM audit_log")


def test_replacing_results_is_idempotent_and_keeps_lineage(db: Database) -> None:
    asset_id, _ = register(db, b"results")
    vector = np.ones(8, dtype=np.float32) / np.sqrt(8)
    result = OperatorResult(
        segments=[SegmentOut(kind="k", key=f"s{i}", start=i, end=i + 1, text=f"t{i}", vectors={MODEL: vector})
                  for i in range(3)],
        artifacts=[ArtifactOut(kind="k", key="a", data={"x": 1}, confidence=0.5, segment_key="s1")],
    )  # fmt: skip
    for _ in range(2):
        with db.transaction() as conn:
            result_repo.replace_results(conn, _run(asset_id), result, [])
    with db.connect() as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM segments) AS s, (SELECT count(*) FROM artifacts) AS a, "
            "(SELECT count(*) FROM embeddings) AS e"
        ).fetchone()
        art = result_repo.read_artifacts(conn, asset_id)[0]
    assert counts == {"s": 3, "a": 1, "e": 3}
    assert (art["operator_version"], art["model"], art["model_version"]) == ("1", MODEL.id, MODEL.version)
    assert art["params_hash"] == params_hash({"k": 1}) and art["start"] == 1.0 and art["confidence"] == 0.5


def test_failed_run_removes_stale_results(db: Database) -> None:
    asset_id, _ = register(db, b"stale")
    result = OperatorResult(segments=[SegmentOut(kind="k", key="s", text="old")])
    with db.transaction() as conn:
        result_repo.replace_results(conn, _run(asset_id), result, [])
    failed = _run(asset_id, version="2")
    failed = result_repo.RunRecord(**{**failed.__dict__, "status": "failed", "error": "boom"})
    with db.transaction() as conn:
        result_repo.record_failure(conn, failed)
    with db.connect() as conn:
        assert result_repo.read_segments(conn, asset_id) == []
        assert result_repo.read_runs(conn, asset_id)["op"]["status"] == "failed"


def test_vector_search_uses_a_per_model_index_and_ranks_by_cosine(db: Database) -> None:
    asset_id, _ = register(db, b"vectors")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    result = OperatorResult(
        segments=[SegmentOut(kind="k", key=f"s{i}", text=f"t{i}", vectors={MODEL: v}) for i, v in enumerate(vectors)]
    )
    with db.transaction() as conn:
        result_repo.replace_results(conn, _run(asset_id), result, [])
    with db.transaction() as conn:
        hits = nearest_segments(conn, MODEL.id, vectors[7] * 3, limit=3, media_type=None, tenant=None)
        indexes = [
            r["indexname"] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename='embeddings'")
        ]
    assert hits[0]["text"] == "t7" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert any(name.startswith("embeddings_hnsw_test_model") for name in indexes)


def test_blob_store_is_content_addressed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "f.bin"
    source.write_bytes(b"abc" * 1000)
    sha, size = store.put_file(source)
    assert sha == hashlib.sha256(b"abc" * 1000).hexdigest() and size == 3000
    assert store.put_bytes(b"abc" * 1000) == sha
    assert store.local_path(sha).read_bytes() == b"abc" * 1000
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [sha]
    with pytest.raises(ValueError):
        store.local_path("../../etc/passwd")


def test_a_lock_taken_not_durable_skips_the_disk_wait_in_its_own_transaction_only(db: Database) -> None:
    """The start of a job commits without waiting for the log to reach the disk; the transactions
    after it, and those that take the lock durably, wait as the server is set to."""
    asset = uuid4()

    def commit_waits(conn: Any) -> str:
        return str(conn.execute("SELECT current_setting('synchronous_commit') AS s").fetchone()["s"])

    with db.transaction() as conn:
        job_states.lock_asset(conn, asset, actor="worker:test", durable=False)
        assert commit_waits(conn) == "off"
        assert conn.execute("SELECT current_setting('mediasift.actor') AS a").fetchone()["a"] == "worker:test"
    with db.transaction() as conn:
        assert commit_waits(conn) == "on"
        job_states.lock_asset(conn, asset)
        assert commit_waits(conn) == "on"
    with db.transaction() as conn:
        job_states.lock_asset(conn, asset, durable=False)
        assert commit_waits(conn) == "off"
