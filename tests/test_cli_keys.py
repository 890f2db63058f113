"""Keys from the command line: made (shown once, as JSON for scripts), listed without secrets, revoked
at once; and ingest into a named tenant, seen over the API by that tenant's key only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from mediasift.api.app import create_app
from mediasift.config import Settings

from support import mediagen
from support.apikeys import bearer

CLI = [sys.executable, "-m", "mediasift.cli"]


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_keys_are_made_listed_and_revoked_from_the_command_line(settings: Settings, media_dir: Path) -> None:
    made = _run(settings, "keys", "create", "--tenant", "newsroom", "--scope", "write", "--expires", "30d", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["key"].startswith("ms_") and created["tenant"] == "newsroom" and created["scope"] == "write"
    assert created["expires_at"] and created["id"] in created["key"]
    listed = json.loads(_run(settings, "keys", "list", "--json").stdout)["keys"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0], "the secret is never listed"
    assert created["key"] not in _run(settings, "keys", "list").stdout

    mediagen.make_text_file(media_dir / "note.txt", "The newsroom filed a story about the orange submarine.")
    ingested = _run(settings, "ingest", str(media_dir / "note.txt"), "--tenant", "newsroom", "--json")
    assert ingested.returncode == 0, ingested.stderr
    asset_id = json.loads(ingested.stdout)["accepted"][0]["asset_id"]
    assert _run(settings, "process").returncode == 0
    cli_hits = json.loads(_run(settings, "search", "orange submarine", "--json").stdout)["results"]
    cli_asset = json.loads(_run(settings, "assets", "show", asset_id, "--json").stdout)
    with TestClient(create_app(settings)) as client:
        seen = client.get("/v1/assets", headers=bearer(created["key"])).json()["assets"]
        assert [a["asset_id"] for a in seen] == [asset_id] and seen[0]["tenant"] == "newsroom"
        api_hits = client.get("/v1/search", params={"q": "orange submarine"}, headers=bearer(created["key"])).json()
        assert [h["asset_id"] for h in api_hits["results"]] == [h["asset_id"] for h in cli_hits] == [asset_id]
        assert api_hits["results"][0].keys() == cli_hits[0].keys(), "one model for both doors"
        assert api_hits["results"][0]["source_path"] == "file:note.txt", "no server path over HTTP"
        api_asset = client.get(f"/v1/assets/{asset_id}", headers=bearer(created["key"])).json()
        assert api_asset.keys() == cli_asset.keys() and api_asset["sources"] == ["file:note.txt"]
        # the same text for the same values, times included, wherever they are in the document
        assert (api_asset["jobs"], api_asset["artifacts"], api_asset["audit"]) == (
            cli_asset["jobs"], cli_asset["artifacts"], cli_asset["audit"],
        )  # fmt: skip
        times = [job["updated_at"] for job in cli_asset["jobs"].values()] + [cli_asset["created_at"]]
        assert all(time.endswith("+00:00") and "T" in time for time in times), times
        assert _run(settings, "keys", "revoke", created["id"]).returncode == 0
        assert client.get("/v1/assets", headers=bearer(created["key"])).status_code == 401
    assert _run(settings, "keys", "revoke", created["id"]).returncode == 2, "revoked already"

    for bad in (["--expires", "0m"], ["--expires", "next tuesday"], ["--tenant", "News Room"], ["--scope", "root"]):
        args = {"--tenant": "newsroom", "--scope": "read", bad[0]: bad[1]}
        refused = _run(settings, "keys", "create", *[x for pair in args.items() for x in pair])
        assert refused.returncode == 2, (bad, refused.stdout)
