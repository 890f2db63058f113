"""The ops page's data: charts made from the same numbers as ``status`` and ``/metrics``.

One JSON document feeds every chart, so a new series is a new entry here and nothing in the page's
script. A chart is ``{"id", "title", "unit", "kind", ...}``:

- ``bars``: ``bars`` is ``[{"label", "value"}]``;
- ``grouped``: ``legend`` names the values of each of ``groups`` (``[{"label", "values"}]``);
- ``ranges``: ``ranges`` is ``[{"label", "low", "mid", "high", "verdict"}]`` (p10, p50, p90);
- ``line``: ``gauge`` names an entry of ``gauges`` that the page samples every few seconds and draws
  over time (``rate: true`` draws its rate of change per minute instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from mediasift.service_models import Drift, MediaCost, Status

LATENCY_METRIC = "mediasift_api_request_seconds"
PERCENTILES = (0.5, 0.9, 0.99)
MAX_ROUTES = 8


def _bars(id_: str, title: str, unit: str, pairs: Iterable[tuple[str, float]], note: str = "") -> dict[str, Any]:
    return {"id": id_, "title": title, "unit": unit, "kind": "bars", "note": note,
            "bars": [{"label": label, "value": round(float(value), 6)} for label, value in pairs]}  # fmt: skip


def latency_percentiles(registry: CollectorRegistry) -> list[dict[str, Any]]:
    """p50, p90 and p99 of the API's request seconds per route (the busiest first), read from the
    histogram's buckets with linear interpolation inside a bucket, as Prometheus'
    ``histogram_quantile`` does."""
    buckets: dict[str, dict[float, float]] = {}
    for family in registry.collect():
        if family.name != LATENCY_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                route = f"{sample.labels['method']} {sample.labels['route']}"
                bound = float(sample.labels["le"])
                per_route = buckets.setdefault(route, {})
                per_route[bound] = per_route.get(bound, 0.0) + sample.value
    groups = []
    for route, cumulative in buckets.items():
        bounds = sorted(cumulative)
        total = cumulative[bounds[-1]] if bounds else 0.0
        if total <= 0:
            continue
        values = [round(_quantile(q, bounds, cumulative, total), 4) for q in PERCENTILES]
        groups.append((total, {"label": route, "values": values}))
    groups.sort(key=lambda pair: -pair[0])
    return [group for _, group in groups[:MAX_ROUTES]]


def _quantile(q: float, bounds: list[float], cumulative: dict[float, float], total: float) -> float:
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bucket: its bound is what is known
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower


def minute_costs(status: Status) -> list[tuple[str, MediaCost]]:
    """The media types with a cost per minute (audio and video that took minutes to analyse)."""
    return [(t, c) for t, c in sorted(status.cost.items()) if c.usd_per_minute is not None]


def charts(status: Status, registry: CollectorRegistry) -> dict[str, Any]:
    queue = status.queue
    per_operator: dict[str, dict[str, int]] = {}
    for operators in queue.jobs.values():
        for operator, states in operators.items():
            mine = per_operator.setdefault(operator, {})
            for state, n in states.items():
                mine[state] = mine.get(state, 0) + n
    error_rates = [
        (op, 100.0 * states.get("dead", 0) / max(1, states.get("dead", 0) + states.get("done", 0)))
        for op, states in sorted(per_operator.items())
    ]
    model_errors = [
        (model, 100.0 * counters.get("errors", 0.0) / counters["calls"])
        for model, counters in sorted(status.models.items())
        if counters.get("calls")
    ]
    ranges = []
    for operator, kinds in sorted(status.confidence.items()):
        for kind, entry in sorted(kinds.items()):
            verdict = "too few results" if entry.psi is None else ("SHIFTED" if entry.shifted else "stable")
            if entry.psi is not None:
                verdict += f" (PSI {entry.psi:.2f})"
            for window, figures in (("recent", entry.recent), ("baseline", entry.baseline)):
                if figures.p50 is not None:
                    ranges.append({"label": f"{operator}/{kind} {window}", "low": figures.p10, "mid": figures.p50,
                                   "high": figures.p90, "verdict": verdict})  # fmt: skip
    cache = [
        (model, 100.0 * c.get("cache_hits", 0.0) / (c.get("cache_hits", 0.0) + c.get("cache_misses", 0.0)))
        for model, c in sorted(status.models.items())
        if c.get("cache_hits", 0.0) + c.get("cache_misses", 0.0) > 0
    ]
    routes = [
        (f"{router} → {counter.removeprefix('route:')}", n)
        for router, c in sorted(status.models.items())
        for counter, n in sorted(c.items())
        if counter.startswith("route:")
    ]
    processed = sum(w.processed for w in status.workers)
    failed = sum(w.failed for w in status.workers)
    found: list[dict[str, Any]] = [
        {"id": "throughput", "title": "Throughput (jobs finished per minute)", "unit": "jobs/min", "kind": "line",
         "gauge": "processed", "rate": True},
        {"id": "depth-over-time", "title": "Queue depth over time", "unit": "jobs", "kind": "line", "gauge": "depth"},
        {"id": "oldest-over-time", "title": "Oldest queued job over time (its wait)", "unit": "s", "kind": "line",
         "gauge": "oldest"},
        _bars("queue", "Queue now", "jobs",
              [*((f"ready: {lane}", n) for lane, n in sorted(queue.ready.items())),
               ("delayed", queue.delayed), ("in flight", queue.in_flight), ("dead", queue.dead)]),
        {"id": "latency", "title": "API latency per route (this API process)", "unit": "s", "kind": "grouped",
         "legend": ["p50", "p90", "p99"], "groups": latency_percentiles(registry)},
        _bars("jobs-done", "Jobs done per operator", "jobs",
              [(op, states.get("done", 0)) for op, states in sorted(per_operator.items())]),
        _bars("operator-errors", "Error rate per operator (dead of finished)", "%", error_rates),
        _bars("model-errors", "Error rate per model (failed calls)", "%", model_errors),
        {"id": "confidence", "title": "Confidence p10–p50–p90, recent window and baseline, with the drift verdict",
         "unit": "", "kind": "ranges", "ranges": ranges},
        _bars("cost", "Cost per item by media type", "USD",
              [(t, c.per_asset_usd) for t, c in sorted(status.cost.items())]),
        _bars("cost-per-minute", "Cost per minute of media (run time at the price of a CPU-hour)", "USD",
              [(t, c.usd_per_minute or 0.0) for t, c in minute_costs(status)],
              note=f"${status.compute_usd_per_hour:g} per CPU-hour; audio and video only"),
        _bars("seconds", "Processing seconds per item by media type", "s",
              [(t, c.processing_s_per_asset) for t, c in sorted(status.cost.items())]),
        _bars("cache", "Model results served from the cache (share of lookups)", "%", cache),
        _bars("routing", "Routing: calls each router sent to each model", "calls", routes),
        {"id": "workers", "title": "Workers alive: jobs processed and failed", "unit": "jobs", "kind": "grouped",
         "legend": ["processed", "failed"],
         "groups": [{"label": f"{w.host}:{w.pid}", "values": [w.processed, w.failed]} for w in status.workers]},
    ]  # fmt: skip
    drift = status.drift or Drift(embeddings={}, inputs={})
    found.append(
        _bars(
            "embedding-drift",
            "Embedding drift: centroid shift in baseline radii (SHIFTED at 0.5)",
            "radii",
            [
                (f"{model}{' SHIFTED' if d.shifted else ''}", d.centroid_shift or 0.0)
                for model, d in sorted(drift.embeddings.items())
            ],
            note="models with too few recent vectors show 0",
        )
    )
    found.append(
        _bars("input-drift", "Input mix drift: PSI per dimension (SHIFTED at 0.25)", "PSI",
              [(f"{name}{' SHIFTED' if m.shifted else ''}", m.psi or 0.0)
               for name, m in sorted(drift.inputs.items())],
              note="dimensions with too few recent assets show 0")
    )  # fmt: skip
    if status.gpus:
        found.append(
            _bars("gpu", "GPU memory in use", "MiB", [(g.name, g.memory_used_bytes / 2**20) for g in status.gpus])
        )
    return {
        "gauges": {
            "depth": queue.depth,
            "oldest": max(queue.oldest_queued_s.values(), default=0.0),
            "processed": processed,
            "failed": failed,
            "workers": len(status.workers),
        },
        "charts": found,
    }
