"""Moving this process's model counters into the database, and reading everyone's back."""

from __future__ import annotations

from typing import Any

from mediasift.db import counters
from mediasift.inference import stats


def flush(conn: Any) -> None:
    """Add the counts not yet written to the database, inside the caller's transaction. Counts whose
    write fails are kept for the next flush."""
    pending = stats.take_unflushed()
    if not pending:
        return
    try:
        counters.add(conn, pending)
    except Exception:
        stats.give_back(pending)
        raise


def read(conn: Any) -> dict[str, dict[str, float]]:
    """Every model's counters summed over its versions: {model id: {counter: value}}."""
    return counters.by_model(conn)
