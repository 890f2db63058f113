"""The webhooks commands a person uses: add (the id and secret printed once), list, remove."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from mediasift.config import Settings

CLI = [sys.executable, "-m", "mediasift.cli"]


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
           "MEDIASIFT_URL_FETCH_PRIVATE": "1"}  # fmt: skip
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_webhooks_are_added_listed_and_removed(settings: Settings) -> None:
    added = _json(_run(settings, "webhooks", "add", "http://127.0.0.1:9/hook", "--events",
                       "asset.analysed,asset.failed", "--tenant", "alpha", "--json"))  # fmt: skip
    assert added["tenant"] == "alpha" and added["secret"].startswith("whsec_")
    plain = _run(settings, "webhooks", "add", "http://127.0.0.1:9/other", "--events", "asset.deleted")
    webhook_id, secret = plain.stdout.split()
    assert plain.returncode == 0 and secret.startswith("whsec_") and "shown once" in plain.stderr
    listed = _json(_run(settings, "webhooks", "list", "--json"))["webhooks"]
    assert [w["id"] for w in listed] == [added["id"], webhook_id] and all("secret" not in w for w in listed)
    assert [
        w["tenant"] for w in _json(_run(settings, "webhooks", "list", "--tenant", "alpha", "--json"))["webhooks"]
    ] == ["alpha"]
    assert _run(settings, "webhooks", "remove", webhook_id).returncode == 0
    assert _run(settings, "webhooks", "remove", webhook_id).returncode == 2
    refused = _run(settings, "webhooks", "add", "ftp://example.com/x", "--events", "asset.analysed")
    assert refused.returncode == 2 and "not an http or https URL" in refused.stderr
