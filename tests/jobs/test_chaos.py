"""The chaos run in reduced form: workers killed with SIGKILL every few seconds, the broker restarted
once; nothing lost, nothing doubled, poison dead-lettered. Full size: ``python tests/support/chaos.py``.

Lost and doubled are counted on the rows stored (segments, artifacts and embeddings per asset and
operator), against those one clean run of the same files stores: not on what an operator reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.chaos import StoredRows, clean_run, make_media, run_chaos
from support.databases import create_database

pytestmark = [pytest.mark.slow, pytest.mark.alone]

ASSETS = 36


@pytest.fixture(scope="module")
def clean(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoredRows]:
    """The files of the chaos runs, and the rows one clean run of them stores (made once for both
    brokers: the results do not depend on which carries the jobs)."""
    work = tmp_path_factory.mktemp("chaos-clean")
    make_media(work / "media", ASSETS)
    return work / "media", clean_run(work / "home", work / "media", create_database(pg_server))


@pytest.mark.parametrize("broker", ["redis", "nats"])
def test_chaos_run_loses_and_doubles_nothing(
    broker: str, clean: tuple[Path, StoredRows], pg_server: str, tmp_path: Path
) -> None:
    media, clean_rows = clean
    report = run_chaos(
        tmp_path, create_database(pg_server), assets=ASSETS, broker=broker, timeout_s=600, media=media,
        clean_rows=clean_rows,
    )  # fmt: skip
    print(report.line())
    assert report.problems == []
    assert report.kills >= 2 and report.broker_restarts == 1
    assert report.done == report.good and report.unfinished == 0
    assert report.dead_lettered_permanent == report.poisoned > 0
    assert report.rows_compared > ASSETS and {what for _, _, what in clean_rows} >= {"segments", "artifacts"}
    assert report.duplicate_results == 0 and report.missing_results == 0
