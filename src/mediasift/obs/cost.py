"""What the analysis cost: per item (asset) by media type and operator, each model's share, and what
the result cache and the routers saved.

Cost and time per item come from the operator runs (the current ones: a re-run replaces its
predecessor), so ``--since`` can choose them by when they finished. Models' shares and the savings
come from the model counters every process adds to (:mod:`mediasift.inference.usage`), which are
totals since the counters began:

- the cache saved, per model, its hits times what one computed input cost it on average;
- a router saved the difference between sending every decision to its costliest tier and what its
  tiers cost for the decisions made: each decision the chosen tier's cost per item, and each
  escalated one the cheapest tier's too (it ran first). Both are estimates from averages.

Audio and video also get a cost per minute of media: the operators' measured run time, priced at the
configured price of a CPU-hour (``compute_usd_per_hour``), over the minutes of the assets analysed. A
run's time is its core time: its wall time times its model threads, or its share of the cores while
the worker computed more jobs than it has cores for (:mod:`mediasift.jobs.permits`), so its seconds
are core-seconds. The model calls' cost (``usd``) counts only the time inside the models; this counts
decoding, shot detection and the rest as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediasift.db import ops as ops_repo
from mediasift.db.quality import Conn

ROUTE = "route:"


def cost_report(
    conn: Conn, models: dict[str, dict[str, float]], since: datetime | None = None, *, usd_per_cpu_hour: float
) -> dict[str, Any]:
    """``{"since", "media_types": {type: {"items", "usd", "seconds", "usd_per_item", "seconds_per_item",
    "minutes", "compute_usd", "compute_usd_per_minute", "operators": {op: {"runs", "failed", "usd",
    "seconds", "usd_per_item", "seconds_per_item"}}}},
    "models": {id: {"usd", "share", "calls", "items"}}, "saved": {"cache_usd", "cache_seconds",
    "routing_usd", "by_model": {id: {"cache_usd", "routing_usd"}}}, "total_usd", "total_seconds",
    "items"}``."""
    items = ops_repo.assets_analysed(conn, since)
    lengths = ops_repo.media_seconds(conn, since)
    media: dict[str, dict[str, Any]] = {}
    for row in ops_repo.operator_totals(conn, since):
        entry = media.setdefault(row["media_type"], _media_entry(items.get(row["media_type"], 0)))
        op = entry["operators"].setdefault(row["operator"], {"runs": 0, "failed": 0, "usd": 0.0, "seconds": 0.0})
        op["runs"] += row["runs"]
        op["failed"] += row["runs"] if row["status"] == "failed" else 0
        op["usd"] += float(row["cost_usd"])
        op["seconds"] += float(row["core_ms"]) / 1000
    for entry in media.values():
        for op in entry["operators"].values():
            op["usd_per_item"] = op["usd"] / op["runs"]
            op["seconds_per_item"] = op["seconds"] / op["runs"]
            entry["usd"] += op["usd"]
            entry["seconds"] += op["seconds"]
        entry["usd_per_item"] = entry["usd"] / entry["items"] if entry["items"] else 0.0
        entry["seconds_per_item"] = entry["seconds"] / entry["items"] if entry["items"] else 0.0
    for media_type, entry in media.items():
        entry.update(per_minute(entry["seconds"], lengths.get(media_type, 0.0) / 60, usd_per_cpu_hour))
    return {
        "since": since,
        "media_types": media,
        "models": model_shares(models),
        "saved": savings(models),
        "total_usd": sum(e["usd"] for e in media.values()),
        "total_seconds": sum(e["seconds"] for e in media.values()),
        "items": sum(items.values()),
    }


def per_minute(cpu_seconds: float, minutes: float, usd_per_cpu_hour: float) -> dict[str, Any]:
    """``{"minutes", "compute_usd", "compute_usd_per_minute"}``: ``cpu_seconds`` priced at
    ``usd_per_cpu_hour``, and per minute of media (None without any minutes: images, texts)."""
    usd = cpu_seconds * usd_per_cpu_hour / 3600.0
    return {"minutes": minutes, "compute_usd": usd, "compute_usd_per_minute": usd / minutes if minutes > 0 else None}


def _media_entry(items: int) -> dict[str, Any]:
    return {"items": items, "usd": 0.0, "seconds": 0.0, "operators": {}}


def model_shares(models: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each model's cost, its share of all models' cost, its calls and inputs."""
    total = sum(c.get("cost_usd", 0.0) for c in models.values())
    return {
        model: {
            "usd": c.get("cost_usd", 0.0),
            "share": c.get("cost_usd", 0.0) / total if total else 0.0,
            "calls": c.get("calls", 0.0),
            "items": c.get("items", 0.0),
        }
        for model, c in sorted(models.items())
        if c.get("calls") or c.get("decisions") or c.get("cache_hits")
    }


def _per_item(counters: dict[str, float], name: str) -> float:
    items = counters.get("items", 0.0)
    return counters.get(name, 0.0) / items if items else 0.0


def savings(models: dict[str, dict[str, float]]) -> dict[str, Any]:
    by_model: dict[str, dict[str, float]] = {}
    cache_usd = cache_s = routing_usd = 0.0
    for model, c in sorted(models.items()):
        hits = c.get("cache_hits", 0.0)
        cached = hits * _per_item(c, "cost_usd")
        cache_s += hits * _per_item(c, "seconds")
        routed = _routing_saved(c, models)
        if cached or routed:
            by_model[model] = {"cache_usd": cached, "routing_usd": routed}
        cache_usd += cached
        routing_usd += routed
    return {"cache_usd": cache_usd, "cache_seconds": cache_s, "routing_usd": routing_usd, "by_model": by_model}


def _routing_saved(router: dict[str, float], models: dict[str, dict[str, float]]) -> float:
    routes = {name[len(ROUTE) :]: n for name, n in router.items() if name.startswith(ROUTE)}
    prices = {tier: _per_item(models.get(tier, {}), "cost_usd") for tier in routes}
    if len(prices) < 2 or not any(prices.values()):
        return 0.0
    decisions = router.get("decisions", sum(routes.values()))
    always_costliest = decisions * max(prices.values())
    spent = sum(n * prices[tier] for tier, n in routes.items()) + router.get("escalated", 0.0) * min(prices.values())
    return max(0.0, always_costliest - spent)


# Upper bounds (seconds) of the operator run time histogram: a text chunker's 0.1 s to a long video's half hour.
RUN_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def run_seconds(conn: Conn) -> dict[str, dict[str, Any]]:
    """Per operator: ``{"bounds", "le" (cumulative counts), "count", "sum_s"}`` of its successful runs."""
    rows = ops_repo.run_seconds_histogram(conn, RUN_BOUNDS)
    return {
        row["operator"]: {"bounds": list(RUN_BOUNDS), "le": row["le"], "count": row["n"], "sum_s": row["sum_s"] or 0.0}
        for row in rows
    }
