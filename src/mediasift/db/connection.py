"""Opening connections to the configured database, migrated and with pgvector registered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

from mediasift.config import Settings
from mediasift.db.server import embedded_url

_migrated: set[str] = set()
_lock = threading.Lock()


def database_url(settings: Settings) -> str:
    """The libpq URL of the database: the configured one, else the embedded server."""
    if settings.database_url:
        return settings.database_url
    settings.ensure_home()
    return embedded_url(settings.pg_dir)


class Database:
    """A handle on the database of one ``Settings``: hands out connections, migrates once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = database_url(settings)
        with _lock:
            if self.url not in _migrated:
                from mediasift.db.migrate import ensure_schema

                ensure_schema(self.url)
                _migrated.add(self.url)

    def connect(self) -> psycopg.Connection[dict[str, object]]:
        conn = psycopg.connect(self.url, row_factory=dict_row, autocommit=False)
        register_vector(conn)
        return conn

    def ping(self) -> None:
        """Reach the server and have it answer; raises when it cannot."""
        with self.connect() as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, object]]]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.connect() as conn:
            yield conn
