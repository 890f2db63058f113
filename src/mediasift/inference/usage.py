"""Moving this process's model counters into the database, and reading everyone's back."""

from __future__ import annotations

from typing import Any

from mediasift.inference import stats


def flush(conn: Any) -> None:
    """Add the counts not yet written to ``inference_counters``, inside the caller's transaction.
    Counts whose write fails are kept for the next flush."""
    pending = stats.take_unflushed()
    if not pending:
        return
    rows = [(model_id, version, counter, value) for (model_id, version, counter), value in pending.items()]
    try:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO inference_counters (model_id, model_version, counter, value) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (model_id, model_version, counter)"
                " DO UPDATE SET value = inference_counters.value + EXCLUDED.value, updated_at = now()",
                rows,
            )
    except Exception:
        stats.give_back(pending)
        raise


def read(conn: Any) -> dict[str, dict[str, float]]:
    """Every model's counters summed over its versions: {model id: {counter: value}}. ``conn``
    returns rows as dicts (:meth:`Database.connect`)."""
    out: dict[str, dict[str, float]] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT model_id, counter, sum(value) AS value FROM inference_counters GROUP BY 1, 2")
        for row in cur.fetchall():
            out.setdefault(row["model_id"], {})[row["counter"]] = float(row["value"])
    return out
