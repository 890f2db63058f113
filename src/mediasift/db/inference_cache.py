"""The ``inference_cache`` table: model results shared by every process using the database, keyed by
(model id, model version, input hash). Read and written on one autocommit connection per thread and
database, kept open: a cache lookup must not cost a new connection (~5 ms here)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg


class InferenceCacheTable:
    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def get_many(self, model_id: str, model_version: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored values of those of ``keys`` that are there; each one found counts a hit."""
        rows = self._execute(
            "UPDATE inference_cache SET hits = hits + 1, used_at = now()"
            " WHERE model_id = %s AND model_version = %s AND input_hash = ANY(%s)"
            " RETURNING input_hash, value",
            (model_id, model_version, list(keys)),
        )
        return {bytes(key): bytes(value) for key, value in rows}

    def put_many(
        self, model_id: str, model_version: str, values: dict[bytes, bytes], asset_id: UUID | None = None
    ) -> None:
        """Store values, made while analysing ``asset_id`` (None: not for an asset, a search query
        say); an entry already there (another process was first) is left as it is."""
        self._execute(
            "INSERT INTO inference_cache (model_id, model_version, input_hash, value, asset_id)"
            " SELECT %s, %s, k, v, %s FROM unnest(%s::bytea[], %s::bytea[]) AS t(k, v)"
            " ON CONFLICT DO NOTHING",
            (model_id, model_version, asset_id, list(values), list(values.values())),
        )

    def _execute(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = psycopg.connect(self.url, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.OperationalError:
            self._local.conn = None
            raise
