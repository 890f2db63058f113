"""Model threads per job: concurrent jobs do not oversubscribe the cores."""

from __future__ import annotations

import pytest

from mediasift.config import Settings, available_cores, load_settings, threads_per_job


def test_threads_per_job_share_the_cores() -> None:
    assert threads_per_job(cores=2, concurrency=2) == 1
    assert threads_per_job(cores=2, concurrency=1) == 2
    assert threads_per_job(cores=16, concurrency=4) == 4
    assert threads_per_job(cores=2, concurrency=3) == 1  # never none
    assert threads_per_job(cores=3, concurrency=2) == 1  # never more than the cores


def test_settings_size_model_threads_from_the_cores_unless_given() -> None:
    cores = available_cores()
    assert Settings(worker_concurrency=1).model_threads == cores
    assert Settings(worker_concurrency=cores).model_threads == 1
    assert Settings(worker_concurrency=cores + 1).model_threads == 1
    assert Settings(model_threads=3, worker_concurrency=2).model_threads == 3


def test_a_workers_concurrency_sizes_its_threads_unless_the_environment_sets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MEDIASIFT_MODEL_THREADS", raising=False)
    cores = available_cores()
    assert load_settings(worker_concurrency=1).model_threads == cores
    assert load_settings(worker_concurrency=cores).model_threads == 1
    monkeypatch.setenv("MEDIASIFT_MODEL_THREADS", "5")
    assert load_settings(worker_concurrency=cores).model_threads == 5
