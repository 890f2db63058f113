"""The ``inference_counters`` table: what every process's models did, summed."""

from __future__ import annotations

from typing import Any

Counts = dict[tuple[str, str, str], float]  # (model id, model version, counter) -> value


def add(conn: Any, counts: Counts) -> None:
    """Add ``counts`` to the stored counters, inside the caller's transaction: one statement (every
    job flushes about ten counters), its rows in key order, so that two transactions adding to the
    same counters lock them in the same order."""
    keys = sorted(counts)
    conn.execute(
        "INSERT INTO inference_counters (model_id, model_version, counter, value)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[])"
        " ON CONFLICT (model_id, model_version, counter)"
        " DO UPDATE SET value = inference_counters.value + EXCLUDED.value, updated_at = now()",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [counts[k] for k in keys]),
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
