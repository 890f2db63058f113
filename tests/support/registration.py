"""Registering an asset straight through the repository, in this process or in a spawned one.

The spawned process's target lives here rather than in a test module: a ``spawn`` child imports the
target by module name, and under pytest's importlib mode a test module's name (``tests.db...``) is
importable only when the working directory happens to be on ``sys.path`` (``python -m pytest``, not
the ``pytest`` script), while ``support`` always is (``pythonpath = ["tests"]``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db.connection import Database


def register(db: Database, payload: bytes, source: str = "/x") -> tuple[Any, bool]:
    """The asset id of ``payload`` as a text, and whether this call created it."""
    sha = hashlib.sha256(payload).hexdigest()
    with db.transaction() as conn:
        asset_repo.set_actor(conn, "test")
        asset_id, created = asset_repo.register_asset(
            conn,
            tenant="default",
            sha256=sha,
            media_type="text",
            mime="text/plain",
            size_bytes=len(payload),
            metadata={"a": 1},
        )
        asset_repo.add_source(conn, asset_id, source)
    return asset_id, created


def register_in_process(url: str, home: str, queue: Any) -> None:
    """Register the same raced bytes as every other such process, and put the asset id on ``queue``."""
    db = Database(Settings(home=Path(home), database_url=url))
    queue.put(str(register(db, b"raced bytes", "/race")[0]))
