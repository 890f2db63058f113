"""The chaos run in reduced form: workers killed with SIGKILL every few seconds, the broker restarted
once; nothing lost, nothing doubled, poison dead-lettered. Full size: ``python tests/support/chaos.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.chaos import run_chaos
from support.databases import create_database

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("broker", ["redis", "nats"])
def test_chaos_run_loses_and_doubles_nothing(broker: str, pg_server: str, tmp_path: Path) -> None:
    report = run_chaos(tmp_path, create_database(pg_server), assets=36, broker=broker, timeout_s=600)
    print(report.line())
    assert report.problems == []
    assert report.kills >= 2 and report.broker_restarts == 1
    assert report.done == report.good and report.unfinished == 0
    assert report.dead_lettered_permanent == report.poisoned > 0
    assert report.duplicate_results == 0 and report.missing_results == 0
