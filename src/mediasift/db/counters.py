"""The ``inference_counters`` table: what every process's models did, summed."""

from __future__ import annotations

from typing import Any

Counts = dict[tuple[str, str, str], float]  # (model id, model version, counter) -> value


def add(conn: Any, counts: Counts) -> None:
    """Add ``counts`` to the stored counters, inside the caller's transaction."""
    rows = [(model_id, version, counter, value) for (model_id, version, counter), value in counts.items()]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO inference_counters (model_id, model_version, counter, value) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (model_id, model_version, counter)"
            " DO UPDATE SET value = inference_counters.value + EXCLUDED.value, updated_at = now()",
            rows,
        )


def by_model(conn: Any) -> dict[str, dict[str, float]]:
    """Every model's counters summed over its versions: {model id: {counter: value}}. ``conn``
    returns rows as dicts (:meth:`Database.connect`)."""
    out: dict[str, dict[str, float]] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT model_id, counter, sum(value) AS value FROM inference_counters GROUP BY 1, 2")
        for row in cur.fetchall():
            out.setdefault(row["model_id"], {})[row["counter"]] = float(row["value"])
    return out
