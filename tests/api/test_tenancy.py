"""Tenants kept apart on every route family, and keys that can do only what their scope allows: the
same bytes uploaded by two tenants are two assets; another tenant's asset, blob, job, dead letter,
export, search hit and audit entry is never seen (404 where it is asked for by id); a read key cannot
write; a revoked or expired key opens nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediasift.access import Scope
from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support.apikeys import Keys, bearer, make_keys
from support.chaos_plugins import POISON

pytestmark = pytest.mark.slow

SHARED = b"The lighthouse keeper wrote that the storm reached the harbour at midnight."
ALPHA_ONLY = b"Alpha's quarterly budget names the orange submarine project and its glacier survey."
POISONED = f"perfectly ordinary words {POISON}".encode()


@pytest.fixture
def tenancy(settings: Settings) -> Iterator[tuple[TestClient, Keys]]:
    """An API and a worker over one system with a poisoned-text operator (for dead letters)."""
    plugged = settings.model_copy(update={"operator_plugins": "support.chaos_plugins:PoisonCheck"})
    keys = make_keys(plugged)
    system = Mediasift(plugged)
    worker = system.worker(concurrency=1)
    thread = threading.Thread(target=system.run_worker, args=(worker,), daemon=True)
    thread.start()
    with TestClient(create_app(plugged)) as client:
        yield client, keys
    worker.stop()
    thread.join(timeout=60)
    system.close()


def _upload(client: TestClient, key: str, name: str, body: bytes) -> dict:
    answer = client.post(f"/v1/assets?filename={name}&wait=true", content=body, headers=bearer(key))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_every_route_family_keeps_tenants_apart(tenancy: tuple[TestClient, Keys]) -> None:
    client, keys = tenancy
    alpha, beta, admin = bearer(keys.write), bearer(keys.other), bearer(keys.admin)
    shared_alpha = _upload(client, keys.write, "note.txt", SHARED)
    shared_beta = _upload(client, keys.other, "note.txt", SHARED)
    assert shared_alpha["id"] != shared_beta["id"] and not shared_beta["duplicate"], "two assets over one blob"
    own = _upload(client, keys.write, "budget.txt", ALPHA_ONLY)
    poisoned = _upload(client, keys.write, "bad.txt", POISONED)
    assert own["status"] == "done" and poisoned["status"] == "failed"
    alpha_id, poisoned_id = own["id"], poisoned["id"]

    # assets, by id, by prefix, listed, similar, exports
    for path in (
        f"/v1/assets/{alpha_id}",
        f"/v1/assets/{alpha_id[:8]}",
        f"/v1/assets/{alpha_id}/similar",
        f"/v1/assets/{alpha_id}/export.json",
        f"/v1/assets/{alpha_id}/transcript.vtt",
    ):
        assert client.get(path, headers=beta).status_code == 404, path
    assert client.get(f"/v1/assets/{alpha_id}", headers=alpha).status_code == 200
    exported = client.get(f"/v1/assets/{alpha_id}/export.json", headers=alpha)
    assert exported.status_code == 200 and exported.json()["id"] == alpha_id and exported.json()["segments"]
    no_speech = client.get(f"/v1/assets/{alpha_id}/transcript.vtt", headers=alpha)
    assert no_speech.status_code == 404 and "no speech" in no_speech.json()["detail"]
    for pattern in ("%25", "_", "%25%25"):  # LIKE's wildcards are characters of a prefix, not patterns
        wild = client.get(f"/v1/assets/{pattern}", headers=alpha)
        assert wild.status_code == 404 and "no asset" in wild.json()["detail"], pattern
    listed = {a["asset_id"] for a in client.get("/v1/assets", headers=beta).json()["assets"]}
    assert listed == {shared_beta["id"]}
    everyone = {a["asset_id"] for a in client.get("/v1/assets", headers=admin).json()["assets"]}
    assert {alpha_id, shared_beta["id"], poisoned_id} <= everyone, "an admin crosses tenants"
    only_beta = client.get("/v1/assets", params={"tenant": "beta"}, headers=admin).json()["assets"]
    assert {a["asset_id"] for a in only_beta} == {shared_beta["id"]}
    assert client.get("/v1/assets", params={"tenant": "alpha"}, headers=beta).json()["assets"] == [
        a for a in client.get("/v1/assets", headers=beta).json()["assets"]
    ], "a non-admin key's tenant parameter changes nothing"

    # search: each tenant finds only its own moments
    for words in ("orange submarine glacier", "lighthouse storm harbour"):
        hits = client.get("/v1/search", params={"q": words}, headers=beta).json()["results"]
        assert {h["asset_id"] for h in hits} <= {shared_beta["id"]}, words
    alpha_hits = client.get("/v1/search", params={"q": "orange submarine"}, headers=alpha).json()["results"]
    assert alpha_hits and alpha_hits[0]["asset_id"] == alpha_id

    # blobs: bytes only beta's assets hold are not alpha's to read, and the reverse
    sha = client.get(f"/v1/assets/{alpha_id}", headers=alpha).json()["sha256"]
    assert client.get(f"/v1/blobs/{sha}", headers=beta).status_code == 404
    original = client.get(f"/v1/blobs/{sha}", headers=alpha)
    assert original.status_code == 200 and original.content == ALPHA_ONLY
    assert original.headers["content-disposition"].startswith("attachment")
    assert original.headers["cache-control"].startswith("private")
    assert original.headers["x-content-type-options"] == "nosniff"

    # jobs and dead letters
    job = f"{poisoned_id}:poison_check"
    assert client.get(f"/v1/jobs/{job}", headers=beta).status_code == 404
    letter = client.get(f"/v1/jobs/{job}", headers=alpha).json()["dead_letter"]
    assert letter["job_id"] == job and letter["error_class"] and letter["message"]
    assert letter["traceback"] is None, "a traceback names the server's files: admin keys only"
    assert "Traceback" in client.get(f"/v1/jobs/{job}", headers=admin).json()["dead_letter"]["traceback"]
    assert client.get("/v1/jobs/dead", headers=beta).json()["dead_letters"] == []
    listed = client.get("/v1/jobs/dead", headers=alpha).json()["dead_letters"]
    assert [(d["job_id"], d["traceback"]) for d in listed] == [(job, None)]
    admin_listed = client.get("/v1/jobs/dead", headers=admin).json()["dead_letters"]
    assert [d["traceback"].startswith("Traceback") for d in admin_listed if d["job_id"] == job] == [True]
    assert client.post(f"/v1/jobs/{job}/redrive", headers=beta).status_code == 404
    assert client.get("/v1/jobs/dead", headers=alpha).json()["dead_letters"], "beta's redrive touched nothing"
    assert client.post(f"/v1/jobs/{job}/redrive", headers=alpha).json() == {"requeued": 1}

    # the audit of API actions: each tenant its own
    beta_actions = client.get("/v1/audit", headers=beta).json()["actions"]
    assert beta_actions and {a["tenant"] for a in beta_actions} == {"beta"}
    assert all(alpha_id not in a["target"] for a in beta_actions)
    alpha_actions = client.get("/v1/audit", headers=alpha).json()["actions"]
    assert {(a["action"], a["target"], a["status"]) for a in alpha_actions} >= {
        ("POST /v1/assets", alpha_id, 201),
        ("GET /v1/blobs/{sha256}", sha, 200),
        ("POST /v1/jobs/{job_id}/redrive", f"/v1/jobs/{job}/redrive", 200),
    }
    assert all(a["client"] and a["key_id"] for a in alpha_actions)
    assert not any(a["action"].startswith("GET /v1/assets") for a in alpha_actions), "plain reads are not audited"


def test_keys_can_do_only_what_their_scope_allows(settings: Settings) -> None:
    keys = make_keys(settings)
    system = Mediasift(settings)
    later = system.keys.create("alpha", Scope.WRITE, expires_at=datetime.now(UTC) + timedelta(hours=1))
    expired = system.keys.create("alpha", Scope.WRITE, expires_at=datetime.now(UTC) + timedelta(seconds=0.5))
    with pytest.raises(ValueError, match="not in the future"):
        system.keys.create("alpha", Scope.WRITE, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = system.keys.create("alpha", Scope.WRITE)
    with TestClient(create_app(settings)) as client:
        read = bearer(keys.read)
        assert client.get("/v1/assets", headers=read).status_code == 200
        refused = client.post("/v1/assets?filename=a.txt", content=SHARED, headers=read)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert "needs write" in refused.json()["detail"]
        assert client.post("/v1/jobs/x:y/redrive", headers=read).status_code == 403
        for key in (keys.read, keys.write):
            assert client.get("/v1/keys", headers=bearer(key)).status_code == 403, "keys are an admin's"
            assert client.get("/v1/status", headers=bearer(key)).status_code == 403
        for body in ({"expires": "yesterday"}, {"expires_at": "2020-01-01T00:00:00Z"}, {"name": "a\u0000b"}):
            wrong = client.post(
                "/v1/keys", json={"tenant": "gamma", "scope": "read", **body}, headers=bearer(keys.admin)
            )
            assert wrong.status_code == 422, body  # a mistyped field, an expiry past, a NUL PostgreSQL cannot store
        made = client.post("/v1/keys", json={"tenant": "gamma", "scope": "read"}, headers=bearer(keys.admin))
        assert made.status_code == 201 and made.json()["key"].startswith("ms_")
        assert client.get("/v1/assets", headers=bearer(made.json()["key"])).json()["assets"] == []

        assert client.get("/v1/assets", headers=bearer(revoked.key)).status_code == 200
        assert client.delete(f"/v1/keys/{revoked.id}", headers=bearer(keys.admin)).status_code == 204
        assert client.get("/v1/assets", headers=bearer(revoked.key)).status_code == 401, "revoked at once"
        assert client.delete(f"/v1/keys/{revoked.id}", headers=bearer(keys.admin)).status_code == 404
        admin_id = keys.admin.split("_")[1]
        assert client.delete(f"/v1/keys/{admin_id}", headers=bearer(keys.admin)).status_code == 422, "not itself"
        assert client.get("/v1/keys", headers=bearer(keys.admin)).status_code == 200

        time.sleep(max(0.0, (expired.expires_at - datetime.now(UTC)).total_seconds()) if expired.expires_at else 0)
        assert client.get("/v1/assets", headers=bearer(later.key)).status_code == 200, "not expired yet"
        gone = client.get("/v1/assets", headers=bearer(expired.key))
        assert gone.status_code == 401 and "unknown, revoked or expired" in gone.json()["detail"], "expired just now"
        assert "a valid API key is required" in client.get("/v1/assets", headers={}).json()["detail"], "no key at all"

        forged = later.key[:-4] + ("AAAA" if not later.key.endswith("AAAA") else "BBBB")
        assert client.get("/v1/assets", headers=bearer(forged)).status_code == 401
        listed = {k["id"]: k for k in client.get("/v1/keys", headers=bearer(keys.admin)).json()["keys"]}
        assert listed[revoked.id]["revoked_at"] and "key" not in listed[revoked.id], "secrets are never listed"
    system.close()


def test_a_server_path_in_a_source_filter_takes_an_admin_key(
    tenancy: tuple[TestClient, Keys], settings: Settings, tmp_path: Path
) -> None:
    """The API shows a key that is not an admin's a server file by its name only; a source filter on
    its folders would tell which folders hold the tenant's files, so it is refused (422), while the
    name as shown, an upload's source and an admin's path all filter."""
    client, keys = tenancy
    folder = tmp_path / "private-client-folder"
    folder.mkdir()
    (folder / "minutes.txt").write_bytes(ALPHA_ONLY)
    system = Mediasift(settings)
    try:
        system.ingest([folder / "minutes.txt"], wait=True, tenant="alpha")
    finally:
        system.close()
    _upload(client, keys.write, "note.txt", SHARED)

    def found(key: str, prefix: str) -> list[str] | int:
        answer = client.get("/v1/search", params={"q": "submarine or lighthouse", "mode": "keyword",
                            "source_prefix": prefix, "tenant": "alpha"}, headers=bearer(key))  # fmt: skip
        if answer.status_code != 200:
            return answer.status_code
        return sorted(hit["source_path"] for hit in answer.json()["results"])

    assert found(keys.write, "file:") == ["file:minutes.txt"]
    for probe in (str(folder), str(tmp_path), "/"):
        assert found(keys.write, probe) == 422, probe
        assert found(keys.read, probe) == 422, probe
    assert found(keys.write, "file:minutes") == ["file:minutes.txt"]
    assert found(keys.write, "upload:") == ["upload:note.txt"]
    assert found(keys.admin, str(folder)) == ["file:minutes.txt"]
    assert found(keys.admin, str(folder) + "-other") == []
