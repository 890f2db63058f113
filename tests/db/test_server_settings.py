"""The embedded server's memory sized to the machine, and short transactions on pooled connections."""

from __future__ import annotations

import os

from mediasift.config import Settings
from mediasift.db.connection import Database
from mediasift.db.server import memory_settings

GIB = 1 << 30


def test_memory_follows_the_machine_between_floors_and_caps() -> None:
    this = memory_settings(24 * GIB, 2)
    assert (this["shared_buffers"], this["work_mem"], this["maintenance_work_mem"]) == ("3072MB", "48MB", "3072MB")
    assert this["max_parallel_maintenance_workers"] == "1"
    small = memory_settings(GIB // 2, 1)
    assert (small["shared_buffers"], small["work_mem"], small["maintenance_work_mem"]) == ("128MB", "4MB", "64MB")
    big = memory_settings(256 * GIB, 32)
    assert (big["shared_buffers"], big["work_mem"], big["maintenance_work_mem"]) == ("8192MB", "64MB", "4096MB")


def test_the_embedded_server_runs_with_them(settings: Settings) -> None:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    wanted = memory_settings(total, os.cpu_count() or 1)
    with Database(settings).transaction() as conn:
        shown = {name: conn.execute(f"SHOW {name}").fetchone()[name] for name in ("work_mem", "maintenance_work_mem")}  # type: ignore[index]
    as_mb = {name: value if value.endswith("MB") else f"{int(value[:-2]) * 1024}MB" for name, value in shown.items()}
    assert as_mb == {"work_mem": wanted["work_mem"], "maintenance_work_mem": wanted["maintenance_work_mem"]}


def test_transactions_reuse_a_pooled_connection(settings: Settings) -> None:
    db = Database(settings)
    with db.transaction() as conn:
        first = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    with db.transaction() as conn:
        second = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert first == second
