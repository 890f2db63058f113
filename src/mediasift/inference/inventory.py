"""What models an installation has: each declared model with its state here and its counters, and
the files that are missing (with the fix), checked without loading anything."""

from __future__ import annotations

from typing import Any

from mediasift.inference.catalog import Catalog
from mediasift.inference.registry import pool
from mediasift.models import devices


def problems(catalog: Catalog) -> dict[str, str]:
    """Declared models whose files are missing, each with the reason and how to fix it."""
    return {spec.id: problem for spec in catalog.specs() if (problem := spec.problem()) is not None}


def listing(catalog: Catalog, counters: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each declared model with its declaration, its state in this process, and ``counters``
    (what every process using the database has counted for it, by model id)."""
    out = []
    for spec in catalog.specs():
        handle = pool.handle(spec)  # a role served by another's runtime shows no load of its own
        problem = spec.problem()
        state = "missing" if problem else "loaded" if handle.loaded else "available"
        out.append(
            {
                "id": spec.id,
                "version": spec.version,
                "task": spec.task,
                "input": spec.input_kind,
                "runtime": spec.runtime.value,
                "output": spec.output,
                "batches": spec.batches,
                "batch_size": spec.batch_size,
                "memory_mb": spec.memory_mb,
                "cost_per_item_usd": spec.cost_per_item_usd,
                "optional": spec.optional,
                "state": state,
                "problem": problem,
                "load_seconds": handle.load_seconds,
                "device": devices.runtime_device(spec.runtime.value),
                "counters": counters.get(spec.id, {}),
            }
        )
    return out
