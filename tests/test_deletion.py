"""Deleting an asset: through the real pipeline, nothing of it is left in any table, the blob store,
the inference cache, the broker or search; what another asset or tenant shares survives; the audit
keeps that it was deleted, by whom and when, and nothing of what it held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mediasift.api.app import create_app
from mediasift.blobs.local import LocalBlobStore
from mediasift.config import Settings
from mediasift.db.erasure import REDACTED
from mediasift.ingest.service import Accepted, Ingestor
from mediasift.service import AssetNotFound, Mediasift

from support import mediagen
from support.apikeys import bearer, make_keys
from support.plugins import Held

NOTE = "The lighthouse keeper logged a storm over the harbour at midnight."
OTHER_NOTE = "The ferry to the island leaves at noon every day in summer."
# They keep the fact of the deletion (the audits) and that the asset existed (its events, by design of
# the outbox): the audit is checked on its own.
AUDITS = ("audit_log", "api_audit", "events")


def save_photo(path: Path, name: str) -> Path:
    Image.fromarray(mediagen.photo(name)).save(path, "PNG")
    return path


def rows_mentioning(conn: psycopg.Connection[Any], needle: str, skip: tuple[str, ...] = AUDITS) -> dict[str, int]:
    """Per table of the schema (every one, every column: the row as text), the rows holding ``needle``."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
    ]
    assert {"assets", "segments", "embeddings", "artifacts", "inference_cache", "queue_jobs"} <= set(tables)
    found = {}
    for table in tables:
        if table in skip:
            continue
        (n,) = conn.execute(f'SELECT count(*) FROM "{table}" t WHERE strpos(t::text, %s) > 0', (needle,)).fetchone()
        if n:
            found[table] = n
    return found


def audit_rows(conn: psycopg.Connection[Any], needle: str) -> list[tuple[str, str, str, str, Any]]:
    return conn.execute(
        "SELECT actor, action, entity, entity_id, detail FROM audit_log WHERE strpos(audit_log::text, %s) > 0"
        " ORDER BY id",
        (needle,),
    ).fetchall()


def blob_file(settings: Settings, sha256: str) -> Path:
    return settings.blob_dir / sha256[:2] / sha256[2:4] / sha256


def blobs_of(system: Mediasift, asset_id: UUID) -> set[str]:
    detail = system.describe(asset_id)
    return {detail.sha256} | {a.blob_sha256 for a in detail.artifacts if a.blob_sha256}


def cached_results(conn: psycopg.Connection[Any], asset_id: UUID) -> int:
    (n,) = conn.execute("SELECT count(*) FROM inference_cache WHERE asset_id = %s", (asset_id,)).fetchone()
    return int(n)


@pytest.mark.slow
def test_deleting_an_asset_leaves_no_row_or_blob_of_it(settings: Settings, tmp_path: Path) -> None:
    alpha, beta = tmp_path / "alpha", tmp_path / "beta"
    alpha.mkdir()
    beta.mkdir()
    photo = save_photo(alpha / "rocket.png", "rocket")
    shared = save_photo(alpha / "cat.png", "chelsea")
    mediagen.make_text_file(alpha / "note.txt", NOTE)
    (beta / "cat-copy.png").write_bytes(shared.read_bytes())
    with closing(Mediasift(settings)) as system:
        mine = system.ingest([alpha], wait=True, tenant="alpha")
        theirs = system.ingest([beta], wait=True, tenant="beta")
        assert not mine.failed and not theirs.failed
        ids = {Path(a.path).name: a.asset_id for a in mine.accepted + theirs.accepted}
        rocket, cat, note, cat_copy = ids["rocket.png"], ids["cat.png"], ids["note.txt"], ids["cat-copy.png"]
        rocket_blobs, cat_blobs = blobs_of(system, rocket), blobs_of(system, cat)
        assert len(rocket_blobs) >= 2 and cat_blobs == blobs_of(system, cat_copy), "an original and a thumbnail"
        label = next(a.data["labels"][0]["label"] for a in system.describe(rocket).artifacts if a.kind == "labels")
        assert rocket in {h.asset_id for h in system.search(label, limit=50)}
        assert cat in {s.asset_id for s in system.similar(cat_copy)}
        with psycopg.connect(settings.database_url) as conn:
            assert cached_results(conn, rocket) > 0, "the cache records the asset whose analysis stored a result"
            cached_by_note = cached_results(conn, note)
            assert cached_by_note > 0
            before = rows_mentioning(conn, str(rocket))
            assert {"assets", "asset_sources", "segments", "embeddings", "artifacts", "operator_runs"} <= set(before)
            assert {"asset_jobs", "inference_cache"} <= set(before)
            assert audit_rows(conn, str(photo)), "the audit had copied where it came from"

        with pytest.raises(AssetNotFound):
            system.delete_asset(rocket, tenant="beta", actor="intruder")
        deleted = system.delete_asset(rocket, tenant="alpha", actor="tester")
        assert (deleted.id, deleted.tenant) == (rocket, "alpha")
        assert deleted.blobs_removed == len(rocket_blobs) and deleted.cached_results_removed > 0
        assert deleted.audit_rows_redacted > 0

        with psycopg.connect(settings.database_url) as conn:
            for needle in (str(rocket), str(photo), *rocket_blobs):
                assert rows_mentioning(conn, needle) == {}, needle
            assert cached_results(conn, rocket) == 0 and cached_results(conn, note) == cached_by_note
            trail = audit_rows(conn, str(rocket))
            assert trail and all(detail == json.loads(REDACTED) for *_, detail in trail)
            assert ("tester", "delete", "assets", str(rocket)) in [row[:4] for row in trail], "who deleted it stays"
            assert audit_rows(conn, str(photo)) == [], "the file it came from is gone from the audit too"
            events = conn.execute(
                "SELECT type, tenant, payload FROM events WHERE asset_id = %s ORDER BY seq", (rocket,)
            ).fetchall()
            assert [(kind, tenant) for kind, tenant, _ in events] == [
                ("asset.analysed", "alpha"),
                ("asset.deleted", "alpha"),
            ], "the deletion is an event, in the same transaction"
            assert events[0][2] == {"status": "done", "redacted": True}, "the earlier summary is gone"
            assert events[1][2]["status"] == "deleted" and events[1][2]["media_type"] == "image"
            assert "labels" in events[1][2]["operators"] and str(photo) not in json.dumps(events[1][2])
            for sha256 in rocket_blobs:
                assert {
                    (entity, detail == json.loads(REDACTED)) for _, _, entity, _, detail in audit_rows(conn, sha256)
                } == {("blobs", True)}
        assert not any(blob_file(settings, sha).exists() for sha in rocket_blobs)
        assert rocket not in {h.asset_id for h in system.search(label, limit=50)}
        with pytest.raises(AssetNotFound):
            system.describe(rocket)
        with pytest.raises(AssetNotFound):
            system.delete_asset(rocket, tenant=None, actor="tester")

        system.delete_asset(cat, tenant="alpha", actor="tester")
        assert cat not in {s.asset_id for s in system.similar(cat_copy)}
        assert all(blob_file(settings, sha).exists() for sha in cat_blobs), "beta's copy still uses them"
        assert system.describe(cat_copy).status == "done"
        assert cat_copy in {h.asset_id for h in system.search("cat", limit=50, tenant="beta")}
        assert note in {h.asset_id for h in system.search("lighthouse keeper storm", limit=5)}
        with psycopg.connect(settings.database_url) as conn:
            assert rows_mentioning(conn, str(cat)) == {}
            assert all(rows_mentioning(conn, sha) for sha in cat_blobs), "the shared blobs' rows stay"


def ingest_note(system: Mediasift, folder: Path, name: str, text: str, tenant: str) -> UUID:
    folder.mkdir(exist_ok=True)
    report = system.ingest([mediagen.make_text_file(folder / name, text)], wait=True, tenant=tenant)
    assert not report.failed
    return report.accepted[0].asset_id


def test_deletion_over_http(settings: Settings, tmp_path: Path) -> None:
    keys = make_keys(settings)
    with closing(Mediasift(settings)) as system:
        note = ingest_note(system, tmp_path / "alpha", "note.txt", NOTE, "alpha")
        theirs = ingest_note(system, tmp_path / "beta", "ferry.txt", OTHER_NOTE, "beta")
    path = f"/v1/assets/{str(note)[:8]}"
    with TestClient(create_app(settings), headers=bearer(keys.write)) as client:
        found = client.get("/v1/search", params={"q": "lighthouse keeper storm"}).json()["results"]
        assert str(note) in {hit["asset_id"] for hit in found}

        assert client.delete(path, headers=bearer(keys.read)).status_code == 403, "a read key may not delete"
        refused = client.delete(path, headers=bearer(keys.other))
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
        assert client.delete(f"/v1/assets/{theirs}").status_code == 404, "another tenant's asset is not there"
        assert (
            client.get(path).status_code == 200
            and client.get(f"/v1/assets/{theirs}", headers=bearer(keys.other)).status_code == 200
        )

        gone = client.delete(path)
        assert gone.status_code == 204 and gone.content == b""
        assert client.get(path).status_code == 404 and client.get(f"/v1/assets/{note}").status_code == 404
        assert client.delete(path).status_code == 404 and client.delete(f"/v1/assets/{note}").status_code == 404
        found = client.get("/v1/search", params={"q": "lighthouse keeper storm"}).json()["results"]
        assert str(note) not in {hit["asset_id"] for hit in found}
        actions = client.get("/v1/audit").json()["actions"]
        deletions = [(a["action"], a["target"], a["status"]) for a in actions if a["action"].startswith("DELETE")]
        assert ("DELETE /v1/assets/{asset}", str(note), 204) in deletions

        assert client.delete(f"/v1/assets/{theirs}", headers=bearer(keys.admin)).status_code == 204, "an admin may"
        admin_actions = client.get("/v1/audit", headers=bearer(keys.admin), params={"tenant": "beta"}).json()
        assert ("DELETE /v1/assets/{asset}", str(theirs), 204) in [
            (a["action"], a["target"], a["status"]) for a in admin_actions["actions"]
        ]
    with psycopg.connect(settings.database_url) as conn:
        assert rows_mentioning(conn, str(note)) == {} and rows_mentioning(conn, str(theirs)) == {}
        (row,) = conn.execute(
            "SELECT actor FROM audit_log WHERE entity = 'assets' AND action = 'delete' AND entity_id = %s", (str(note),)
        ).fetchall()
        assert row[0].startswith("api:")


def _cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "mediasift.cli", *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_the_cli_deletes_an_asset_of_any_tenant_by_prefix(settings: Settings, tmp_path: Path) -> None:
    with closing(Mediasift(settings)) as system:
        note = ingest_note(system, tmp_path, "note.txt", NOTE, "beta")
    prefix = str(note)[:8]
    kept = _cli(settings, "assets", "delete", prefix, stdin="n\n")
    assert kept.returncode == 1 and "Delete asset" in kept.stdout
    deleted = _cli(settings, "assets", "delete", prefix, "--yes", "--json")
    assert deleted.returncode == 0, deleted.stderr
    report = json.loads(deleted.stdout)
    assert report["id"] == str(note) and report["tenant"] == "beta" and report["blobs_removed"] == 1
    again = _cli(settings, "assets", "delete", prefix, "--yes")
    assert again.returncode == 2 and "no asset" in again.stderr
    with psycopg.connect(settings.database_url) as conn:
        assert rows_mentioning(conn, str(note)) == {}
        assert conn.execute("SELECT actor FROM audit_log WHERE entity = 'assets' AND action = 'delete'").fetchall() == [
            ("cli",)
        ]


@pytest.fixture
def held() -> Iterator[type[Held]]:
    Held.started.clear()
    Held.release.clear()
    yield Held
    Held.release.set()


def with_broker(settings: Settings, request: pytest.FixtureRequest, backend: str, plugins: str) -> Settings:
    return settings.model_copy(
        update={
            "operator_plugins": plugins,
            "broker_url": "" if backend == "postgres" else str(request.getfixturevalue(f"{backend}_server")),
            "queue_namespace": "t" + uuid.uuid4().hex[:10],
            "retry_base_s": 0.1,
        }
    )


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("backend", "plugin"),
    [("postgres", "Held"), ("postgres", "HeldThenReads"), ("redis", "Held"), ("nats", "HeldThenReads")],
)
def test_a_job_in_flight_during_deletion_ends_as_a_no_op_and_leaves_nothing(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest, held: type[Held], backend: str, plugin: str
) -> None:
    """The worker holds the asset's job while it is deleted; let go, the job writes its results (or
    reads the file, now gone) and fails on the missing asset: that ends it as a no-op, neither
    retried nor buried, and the blob it stored goes too."""
    s = with_broker(settings, request, backend, f"support.plugins:{plugin}")
    with closing(Mediasift(s)) as system:
        report = system.ingest([mediagen.make_text_file(tmp_path / "note.txt", NOTE)], tenant="alpha")
        asset_id = report.accepted[0].asset_id
        worker = system.worker(concurrency=2)
        thread = threading.Thread(target=system.run_worker, args=(worker,), daemon=True)
        thread.start()
        try:
            assert held.started.wait(60), "the held job started"
            system.delete_asset(asset_id, tenant=None, actor="tester")
            held.release.set()
            deadline = time.monotonic() + 60
            while (q := system.broker.stats()).depth or q.in_flight or worker.in_flight:
                assert time.monotonic() < deadline, q
                time.sleep(0.1)
        finally:
            worker.stop()
            thread.join(timeout=60)
        assert (worker.stats.failed, worker.stats.retried, worker.stats.dead) == (0, 0, 0)
        assert worker.stats.processed >= 1
        assert system.dead_letters() == [] and system.broker.stats().dead == 0
        with psycopg.connect(settings.database_url) as conn:
            assert rows_mentioning(conn, str(asset_id)) == {}
            assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (0,)
            runs = [row for row in audit_rows(conn, str(asset_id)) if row[2] == "operator_runs"]
            assert f"{asset_id}:held" not in {row[3] for row in runs}, "no run of the held job was recorded"
        assert files_under(s.blob_dir) == [], "neither the original nor the blob the job stored is left"
        system.broker.purge()


@pytest.mark.parametrize("backend", ["postgres", "redis", "nats"])
def test_dead_letters_of_a_deleted_asset_leave_the_queue(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    s = with_broker(settings, request, backend, "support.plugins:Broken")
    with closing(Mediasift(s)) as system:
        first = ingest_failing(system, tmp_path / "a", NOTE)
        second = ingest_failing(system, tmp_path / "b", OTHER_NOTE)
        assert {d.job.id for d in system.dead_letters()} == {f"{first}:broken", f"{second}:broken"}
        deleted = system.delete_asset(first, tenant="alpha", actor="tester")
        assert deleted.jobs_removed >= 1
        assert [d.job.id for d in system.dead_letters()] == [f"{second}:broken"]
        assert system.broker.stats().dead == 1
        assert system.redrive([f"{first}:broken"]) == 0
        system.broker.purge()


def ingest_failing(system: Mediasift, folder: Path, text: str) -> UUID:
    folder.mkdir()
    report = system.ingest([mediagen.make_text_file(folder / "note.txt", text)], wait=True, tenant="alpha")
    assert report.failed == [report.accepted[0].asset_id]
    return report.accepted[0].asset_id


class DeletingAfterPut(LocalBlobStore):
    """A real local store that runs ``then`` once, right after its next ``put_file``: a deletion
    that lands between an ingest storing the bytes and recording them."""

    def __init__(self, root: Path, then: Any) -> None:
        super().__init__(root)
        self.then = then

    def put_file(self, path: Path) -> tuple[str, int]:
        stored = super().put_file(path)
        then, self.then = self.then, None
        if then is not None:
            then()
        return stored


def test_an_ingest_of_the_same_bytes_during_a_deletion_keeps_its_blob(settings: Settings, tmp_path: Path) -> None:
    with closing(Mediasift(settings)) as system:
        mine = ingest_note(system, tmp_path / "alpha", "note.txt", NOTE, "alpha")
        sha256 = system.describe(mine).sha256
        copy = mediagen.make_text_file(tmp_path / "copy.txt", NOTE)
        deleted: list[int] = []

        def delete_mine() -> None:
            deleted.append(system.delete_asset(mine, tenant="alpha", actor="tester").blobs_removed)
            assert not blob_file(settings, sha256).exists(), "the deletion took the bytes"

        store = DeletingAfterPut(settings.blob_dir, delete_mine)
        theirs = Ingestor(system.db, settings, store, system.inference.language, tenant="beta").ingest_file(copy)
        assert deleted == [1] and isinstance(theirs, Accepted) and not theirs.duplicate
        detail = system.describe(theirs.asset_id)
        assert detail.tenant == "beta" and detail.sha256 == sha256
        assert blob_file(settings, sha256).read_bytes() == copy.read_bytes(), "the ingest stored them again"


def test_a_worker_storing_bytes_a_deletion_removes_stores_them_again(
    settings: Settings, tmp_path: Path, held: type[Held]
) -> None:
    s = settings.model_copy(update={"operator_plugins": "support.plugins:HeldStamp", "retry_base_s": 0.1})
    with closing(Mediasift(s)) as system:
        held.release.set()
        mine = ingest_note(system, tmp_path / "alpha", "note.txt", NOTE, "alpha")
        stamp = next(a.blob_sha256 for a in system.describe(mine).artifacts if a.kind == "held")
        assert stamp is not None
        held.started.clear()
        held.release.clear()
        report = system.ingest([mediagen.make_text_file(tmp_path / "other.txt", OTHER_NOTE)], tenant="beta")
        worker = system.worker(concurrency=2)
        thread = threading.Thread(target=system.run_worker, args=(worker,), daemon=True)
        thread.start()
        try:
            assert held.started.wait(60), "the stamp is stored (it was there: not written again), the job waits"
            assert system.delete_asset(mine, tenant="alpha", actor="tester").blobs_removed == 2
            assert not blob_file(s, stamp).exists()
            held.release.set()
            system.wait_for([report.accepted[0].asset_id])
        finally:
            worker.stop()
            thread.join(timeout=60)
        theirs = system.describe(report.accepted[0].asset_id)
        assert theirs.status == "done" and worker.stats.retried == 1, "the job found its blob gone and ran again"
        assert stamp in {a.blob_sha256 for a in theirs.artifacts} and blob_file(s, stamp).exists()


def test_the_audit_log_takes_no_change_but_a_redaction(settings: Settings, tmp_path: Path) -> None:
    with closing(Mediasift(settings)) as system:
        note = ingest_note(system, tmp_path, "note.txt", NOTE, "alpha")
    with psycopg.connect(settings.database_url) as conn:
        (row_id, entity_id) = conn.execute(
            "SELECT id, entity_id FROM audit_log WHERE entity = 'asset_sources' AND entity_id LIKE %s",
            (f"{note}:%",),
        ).fetchone()
        refused = [
            ("UPDATE audit_log SET detail = '{}'::jsonb WHERE id = %s", (row_id,)),
            (f"UPDATE audit_log SET detail = '{REDACTED}'::jsonb, actor = 'forger' WHERE id = %s", (row_id,)),
            (f"UPDATE audit_log SET detail = '{REDACTED}'::jsonb, entity_id = 'elsewhere' WHERE id = %s", (row_id,)),
            ("DELETE FROM audit_log WHERE id = %s", (row_id,)),
            ("TRUNCATE audit_log", ()),
        ]
        for sql, params in refused:
            with pytest.raises(psycopg.errors.RaiseException):
                conn.execute(sql, params)
            conn.rollback()
        conn.execute(
            f"UPDATE audit_log SET detail = '{REDACTED}'::jsonb, entity_id = %s WHERE id = %s",
            (f"{note}:source", row_id),
        )
        assert conn.execute("SELECT entity_id, detail FROM audit_log WHERE id = %s", (row_id,)).fetchone() == (
            f"{note}:source",
            json.loads(REDACTED),
        )
        assert entity_id.endswith("note.txt")


def test_deletion_removes_the_bytes_from_s3_and_the_local_copy(
    settings: Settings, tmp_path: Path, s3_server: Any
) -> None:
    s = settings.model_copy(
        update={
            "blob_url": f"s3://mediasift-blobs/deletion/{uuid.uuid4().hex[:10]}",
            "s3_endpoint_url": s3_server.endpoint,
            "s3_access_key_id": s3_server.access_key,
            "s3_secret_access_key": s3_server.secret_key,
        }
    )
    with closing(Mediasift(s)) as system:
        note = ingest_note(system, tmp_path, "note.txt", NOTE, "alpha")
        kept = ingest_note(system, tmp_path / "other", "other.txt", OTHER_NOTE, "alpha")
        sha256, other = system.describe(note).sha256, system.describe(kept).sha256
        assert system.blobs.exists(sha256)
        cached = s.cache_dir / "blobs" / sha256[:2] / sha256[2:4] / sha256
        assert cached.exists(), "the analysis read it through the local copy"
        system.delete_asset(note, tenant=None, actor="tester")
        assert not system.blobs.exists(sha256) and not cached.exists()
        system.blobs.delete(sha256)  # again: no error
        assert system.blobs.exists(other)
