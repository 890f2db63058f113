"""Shared fixtures: a real embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mediasift.config import Settings
from mediasift.db.server import embedded_url, stop_embedded

from support.databases import LEASE_S, create_database, create_migrated_template

TESTS = Path(__file__).parent

# The longest modules run in parallel, longest first (each ~20 s or more on two quiet cores; the chaos
# runs are marked ``alone`` and run after them). Under pytest-xdist (``make test``) they are handed out
# first, so that the parallel run does not end with one process in a long module and the other idle.
LONGEST_FIRST = (
    "jobs/test_distributed.py",
    "api/test_fuzz.py",
    "test_cli_jobs.py",
    "test_cli_keys.py",
    "inference/test_speech_routing.py",
    "deploy/test_prometheus.py",
    "events/test_webhooks_cli.py",
    "test_flood.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker (whose collection order the scheduler follows with
    ``--no-loadscope-reorder``), put the longest modules first; a plain run keeps the file order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(TESTS).as_posix(), len(rank)))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded server, started once in a throwaway data directory and stopped at the end."""
    pg_dir = tmp_path_factory.mktemp("pg-home") / "pg"
    url = embedded_url(pg_dir)
    yield url
    stop_embedded(pg_dir)


@pytest.fixture(scope="session")
def migrated_template(pg_server: str) -> str:
    """A database migrated once per session, which each test's database is copied from. Migrating
    from nothing is still tested: tests/db/test_storage.py and the module fixtures that call
    ``create_database`` without a template start from empty databases."""
    return create_migrated_template(pg_server)


@pytest.fixture
def settings(pg_server: str, migrated_template: str, tmp_path: Path) -> Settings:
    """Settings with their own database (migrated, no rows) and an empty data directory."""
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, database_url=create_database(pg_server, template=migrated_template))


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def tcp_pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second, separate PostgreSQL reached over TCP by URL."""
    from support.pg_tcp import TcpPostgres

    server = TcpPostgres(tmp_path_factory.mktemp("pg-tcp") / "data")
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from support.servers import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from support.servers import NatsServer

    server = NatsServer(tmp_path_factory.mktemp("nats"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka-compatible broker (Tansu, in memory): its bootstrap address."""
    from support.servers import TansuServer

    server = TansuServer(tmp_path_factory.mktemp("tansu"))
    yield server.start()
    server.stop()


BACKENDS = ["postgres", "redis", "nats"]


def broker_url(request: pytest.FixtureRequest, backend: str) -> str:
    """The URL of a running server for ``backend`` ('' means the database itself)."""
    if backend == "postgres":
        return ""
    return str(request.getfixturevalue(f"{backend}_server"))


@pytest.fixture(params=BACKENDS)
def broker(request: pytest.FixtureRequest, pg_server: str) -> Iterator[Any]:
    """A broker of each backend, in a namespace of its own, on a fresh database."""
    from mediasift.jobs.broker import open_broker

    namespace = "t" + uuid.uuid4().hex[:10]
    url = broker_url(request, request.param)
    opened = open_broker(url, database_url=create_database(pg_server), lease_s=LEASE_S, namespace=namespace)
    yield opened
    opened.purge()
    opened.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started ``servers.SeaweedS3``: S3 at ``.endpoint`` for ``.access_key`` / ``.secret_key``."""
    from support.servers import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()
