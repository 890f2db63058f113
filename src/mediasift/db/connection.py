"""Opening connections to the configured database, migrated and with pgvector registered; short
transactions take theirs from a pool.

A new connection per transaction cost ~5 ms here (the SQL of a semantic query at 1M segments takes
~10 ms), and hybrid search opened two. Pools are per process and database URL, kept for the few most
recently used URLs (a test suite makes a database per test: older pools are closed, so their
connections do not pile up against the server's ``max_connections``).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from mediasift.config import Settings
from mediasift.db.server import embedded_url

_migrated: set[str] = set()
_lock = threading.Lock()

POOL_MAX = 16  # connections per database: the API's concurrent searches, two each in hybrid mode
POOL_IDLE_S = 60.0  # an idle connection is closed after this
POOLS_KEPT = 4  # pools kept open per process; the least recently used beyond them is closed
_pools: OrderedDict[tuple[int, str], ConnectionPool[psycopg.Connection[dict[str, object]]]] = OrderedDict()

# What connecting to a database that is not there raises (or to a URL that is none): for the doors to
# say so in a line rather than a traceback.
CANNOT_CONNECT: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.ProgrammingError)


# A connection back in the pool less than this long ago is lent again unchecked. A server stopped and
# started again (``mediasift db stop``) leaves dead connections, which a round trip on the socket finds
# before they are lent; but that round trip on every loan was a fifth of a search's time under load
# (four loans a query: the key check, the rankings, the pictures), and no restart takes under a second.
CHECK_AFTER_IDLE_S = 1.0
_returned: weakref.WeakKeyDictionary[psycopg.Connection[dict[str, object]], float] = weakref.WeakKeyDictionary()


def _configure(conn: psycopg.Connection[dict[str, object]]) -> None:
    register_vector(conn)
    conn.commit()  # register_vector reads the type's oid: leave the connection idle, not in a transaction


def _returning(conn: psycopg.Connection[dict[str, object]]) -> None:
    _returned[conn] = time.monotonic()


def _check(conn: psycopg.Connection[dict[str, object]]) -> None:
    if time.monotonic() - _returned.get(conn, 0.0) >= CHECK_AFTER_IDLE_S:
        ConnectionPool.check_connection(conn)


def pool_for(url: str) -> ConnectionPool[psycopg.Connection[dict[str, object]]]:
    """This process's pool for ``url`` (a forked child makes its own)."""
    key = (os.getpid(), url)
    with _lock:
        pool = _pools.get(key)
        if pool is not None and not pool.closed:
            _pools.move_to_end(key)
            return pool
        pool = ConnectionPool(
            url,
            min_size=0,
            max_size=POOL_MAX,
            max_idle=POOL_IDLE_S,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=_configure,
            reset=_returning,
            check=_check,
            open=True,
            name="mediasift",
        )
        _pools[key] = pool
        retired = [k for k in _pools if k != key][: max(len(_pools) - POOLS_KEPT, 0)]
        # another process's pools (inherited over a fork) are dropped, not closed: their parent's
        closing = [old for k in retired if (old := _pools.pop(k)) and k[0] == key[0]]
    for retiring in closing:
        retiring.close(timeout=5.0)
    return pool


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
        """A connection of its own, outside the pool: for a check that must reach the server now
        (:meth:`ping`) and for tests. Everything else takes a pooled one with :meth:`transaction`
        (tests/test_architecture.py keeps it so)."""
        conn = psycopg.connect(self.url, row_factory=dict_row, autocommit=False)
        register_vector(conn)
        return conn

    def ping(self) -> None:
        """Reach the server and have it answer; raises when it cannot."""
        with self.connect() as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, object]]]:
        """A pooled connection inside one transaction: committed on success, rolled back on error."""
        with pool_for(self.url).connection() as conn:
            yield conn
