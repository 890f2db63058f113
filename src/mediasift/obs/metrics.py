"""Prometheus metrics read from the system of record at scrape time, so any process (a worker, the
CLI, the API) reports the same numbers as ``mediasift status``. They read a status snapshot as plain
data (``Status.model_dump()``), taken at each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

StatusSnapshot = Callable[[], Mapping[str, Any]]


class StatusCollector(Collector):
    """Turns a ``Mediasift.status()`` snapshot into gauges."""

    def __init__(self, status: StatusSnapshot) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        info = self.status()
        queue = info["queue"]
        ready = GaugeMetricFamily("mediasift_queue_ready", "Jobs ready to run, per lane", labels=["broker", "lane"])
        for lane, n in queue["ready"].items():
            ready.add_metric([queue["broker"], lane], n)
        yield ready
        for name, help_text in (
            ("delayed", "Jobs waiting for a retry time"),
            ("in_flight", "Jobs held by workers"),
            ("dead", "Jobs in the dead-letter queue"),
        ):
            gauge = GaugeMetricFamily(f"mediasift_queue_{name}", help_text, labels=["broker"])
            gauge.add_metric([queue["broker"]], queue[name])
            yield gauge
        jobs = GaugeMetricFamily(
            "mediasift_jobs", "Asset operator jobs by lane, operator and state", labels=["lane", "operator", "state"]
        )
        for lane, operators in queue["jobs"].items():
            for operator, states in operators.items():
                for state, n in states.items():
                    jobs.add_metric([lane, operator, state], n)
        yield jobs
        workers = GaugeMetricFamily("mediasift_workers_alive", "Workers with a recent heartbeat")
        workers.add_metric([], len(info["workers"]))
        yield workers
        in_flight = GaugeMetricFamily("mediasift_worker_in_flight", "Jobs each worker holds", labels=["worker"])
        for worker in info["workers"]:
            in_flight.add_metric([worker["id"]], worker["in_flight"])
        yield in_flight
        assets = GaugeMetricFamily(
            "mediasift_assets", "Assets by media type and status", labels=["media_type", "status"]
        )
        for media_type, statuses in info["assets"]["by_media_type"].items():
            for status, n in statuses.items():
                assets.add_metric([media_type, status], n)
        yield assets
        per_asset = GaugeMetricFamily(
            "mediasift_cost_per_asset_usd", "Model cost per processed asset, by media type", labels=["media_type"]
        )
        seconds = GaugeMetricFamily(
            "mediasift_processing_seconds_per_asset", "Operator time per processed asset", labels=["media_type"]
        )
        for media_type, cost in info["cost"].items():
            per_asset.add_metric([media_type], cost["per_asset_usd"])
            seconds.add_metric([media_type], cost["processing_s_per_asset"])
        yield per_asset
        yield seconds
        yield from _model_metrics(info["models"])
        yield from _gpu_metrics(info["gpus"])
        yield from _confidence_metrics(info["confidence"])
        yield from _queue_age_metrics(queue.get("oldest_queued_s", {}))
        yield from _run_seconds_metrics(info.get("run_seconds", {}))
        if info.get("spend") is not None:
            yield from _spend_metrics(info["spend"])
        if info.get("drift") is not None:
            yield from _drift_metrics(info["drift"])


# Model counters exported as their own metric families; the rest (route:…, fallback:…) as one labelled family.
_MODEL_COUNTERS = {
    "calls": "Model calls",
    "items": "Inputs the model processed",
    "seconds": "Seconds spent in model calls",
    "cost_usd": "Cost of model calls in USD",
    "cache_hits": "Inputs answered from the result cache",
    "cache_misses": "Inputs the result cache did not have",
    "errors": "Failed model calls",
    "decisions": "Router decisions",
    "escalated": "Router decisions that picked a costlier tier",
    "fallbacks": "Fallback chain calls answered by a later tier",
}


def _model_metrics(models: dict[str, dict[str, float]]) -> Iterator[GaugeMetricFamily]:
    families = {
        name: GaugeMetricFamily(f"mediasift_model_{name}_total", help_text, labels=["model"])
        for name, help_text in _MODEL_COUNTERS.items()
    }
    decisions = GaugeMetricFamily(
        "mediasift_model_routes_total", "Routing and fallback decisions by outcome", labels=["model", "decision"]
    )
    for model, counters in models.items():
        for counter, value in counters.items():
            if counter in families:
                families[counter].add_metric([model], value)
            elif counter.startswith(("route:", "fallback:")):
                decisions.add_metric([model, counter], value)
    yield from families.values()
    yield decisions


def _gpu_metrics(gpus: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    used = GaugeMetricFamily("mediasift_gpu_memory_used_bytes", "GPU memory in use (NVML)", labels=["gpu", "name"])
    total = GaugeMetricFamily("mediasift_gpu_memory_total_bytes", "GPU memory (NVML)", labels=["gpu", "name"])
    busy = GaugeMetricFamily("mediasift_gpu_utilization_percent", "GPU utilisation (NVML)", labels=["gpu", "name"])
    for gpu in gpus:
        labels = [str(gpu["index"]), gpu["name"]]
        used.add_metric(labels, gpu["memory_used_bytes"])
        total.add_metric(labels, gpu["memory_total_bytes"])
        busy.add_metric(labels, gpu["utilization_percent"])
    yield from (used, total, busy)


def _confidence_metrics(report: dict[str, dict[str, Any]]) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
    labels = ["operator", "kind", "window"]
    quantiles = GaugeMetricFamily(
        "mediasift_confidence", "Result confidence quantiles, recent window and baseline", labels=[*labels, "quantile"]
    )
    counts = GaugeMetricFamily("mediasift_confidence_results", "Results with a confidence, per window", labels=labels)
    psi = GaugeMetricFamily(
        "mediasift_confidence_drift_psi", "Population stability index, recent vs baseline", labels=["operator", "kind"]
    )
    shifted = GaugeMetricFamily(
        "mediasift_confidence_drift_shifted", "1 when the confidence drift is SHIFTED", labels=["operator", "kind"]
    )
    for operator, kinds in report.items():
        for kind, entry in kinds.items():
            for window in ("recent", "baseline"):
                summary = entry[window]
                counts.add_metric([operator, kind, window], summary["count"])
                for name, q in (("p10", "0.1"), ("p50", "0.5"), ("p90", "0.9")):
                    if summary[name] is not None:
                        quantiles.add_metric([operator, kind, window, q], summary[name])
            if entry["psi"] is not None:
                psi.add_metric([operator, kind], entry["psi"])
            shifted.add_metric([operator, kind], 1.0 if entry["shifted"] else 0.0)
    yield from (quantiles, counts, psi, shifted)
    yield _confidence_histogram(report)


def _confidence_histogram(report: dict[str, dict[str, Any]]) -> HistogramMetricFamily:
    """Each window's results per tenth of confidence, as a histogram (``le`` 0.1 ... 1.0)."""
    histogram = HistogramMetricFamily(
        "mediasift_result_confidence", "Result confidence per window", labels=["operator", "kind", "window"]
    )
    for operator, kinds in report.items():
        for kind, entry in kinds.items():
            for window in ("recent", "baseline"):
                bins = entry[window].get("bins") or []
                if not bins:
                    continue
                cumulative, buckets = 0, []
                for index, n in enumerate(bins):
                    cumulative += n
                    buckets.append((f"{(index + 1) / len(bins):.1f}", cumulative))
                buckets[-1] = ("+Inf", cumulative)
                mean = entry[window]["mean"] or 0.0
                histogram.add_metric([operator, kind, window], buckets, sum_value=mean * cumulative)
    return histogram


def _queue_age_metrics(oldest: dict[str, float]) -> Iterator[GaugeMetricFamily]:
    age = GaugeMetricFamily(
        "mediasift_queue_oldest_seconds", "Wait of the oldest queued job, per lane", labels=["lane"]
    )
    for lane, seconds in oldest.items():
        age.add_metric([lane], seconds)
    yield age


def _run_seconds_metrics(durations: dict[str, dict[str, Any]]) -> Iterator[HistogramMetricFamily]:
    histogram = HistogramMetricFamily(
        "mediasift_operator_run_seconds", "Time of each operator's current successful runs", labels=["operator"]
    )
    for operator, h in durations.items():
        buckets = [(f"{bound:g}", n) for bound, n in zip(h["bounds"], h["le"], strict=True)] + [("+Inf", h["count"])]
        histogram.add_metric([operator], buckets, sum_value=h["sum_s"])
    yield histogram


def _spend_metrics(spend: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    """What ``mediasift cost`` says: its totals are the sums of these series."""
    labels = ["media_type", "operator"]
    usd = GaugeMetricFamily("mediasift_operator_cost_usd", "Model cost of the current operator runs", labels=labels)
    seconds = GaugeMetricFamily("mediasift_operator_seconds", "Time of the current operator runs", labels=labels)
    runs = GaugeMetricFamily("mediasift_operator_runs", "Current operator runs by outcome", labels=[*labels, "status"])
    items = GaugeMetricFamily("mediasift_items_analysed", "Assets with at least one run", labels=["media_type"])
    per_item = GaugeMetricFamily(
        "mediasift_cost_per_item_usd", "Model cost per analysed asset, by media type and operator", labels=labels
    )
    for media_type, entry in spend["media_types"].items():
        items.add_metric([media_type], entry["items"])
        for operator, op in entry["operators"].items():
            usd.add_metric([media_type, operator], op["usd"])
            seconds.add_metric([media_type, operator], op["seconds"])
            runs.add_metric([media_type, operator, "done"], op["runs"] - op["failed"])
            runs.add_metric([media_type, operator, "failed"], op["failed"])
            per_item.add_metric([media_type, operator], op["usd"] / entry["items"] if entry["items"] else 0.0)
    share = GaugeMetricFamily("mediasift_model_cost_share", "Each model's share of all models' cost", labels=["model"])
    for model, m in spend["models"].items():
        share.add_metric([model], m["share"])
    saved = GaugeMetricFamily(
        "mediasift_saved_usd", "Cost the result cache and the routers saved (estimates)", labels=["model", "by"]
    )
    for model, by in spend["saved"]["by_model"].items():
        saved.add_metric([model, "cache"], by["cache_usd"])
        saved.add_metric([model, "routing"], by["routing_usd"])
    yield from (usd, seconds, runs, items, per_item, share, saved)


def _drift_metrics(drift: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    shift = GaugeMetricFamily(
        "mediasift_embedding_centroid_shift", "Recent embeddings' centroid shift, in baseline radii", labels=["model"]
    )
    spread = GaugeMetricFamily(
        "mediasift_embedding_spread_ratio", "Recent embeddings' spread over the baseline's", labels=["model"]
    )
    vectors = GaugeMetricFamily(
        "mediasift_embedding_drift_vectors", "Vectors compared per window", labels=["model", "window"]
    )
    shifted = GaugeMetricFamily("mediasift_drift_shifted", "1 when a drift is SHIFTED", labels=["signal", "name"])
    for model, e in drift["embeddings"].items():
        if e["centroid_shift"] is not None:
            shift.add_metric([model], e["centroid_shift"])
            spread.add_metric([model], e["spread_ratio"])
        vectors.add_metric([model, "recent"], e["recent"])
        vectors.add_metric([model, "baseline"], e["baseline"])
        shifted.add_metric(["embedding", model], 1.0 if e["shifted"] else 0.0)
    psi = GaugeMetricFamily("mediasift_input_mix_psi", "Input mix PSI, recent vs baseline", labels=["dimension"])
    shares = GaugeMetricFamily(
        "mediasift_input_mix_share", "Share of each input category", labels=["dimension", "category", "window"]
    )
    for dimension, mix in drift["inputs"].items():
        if mix["psi"] is not None:
            psi.add_metric([dimension], mix["psi"])
        shifted.add_metric(["inputs", dimension], 1.0 if mix["shifted"] else 0.0)
        for window in ("recent", "baseline"):
            for category, value in mix[window].items():
                shares.add_metric([dimension, category, window], value)
    yield from (shift, spread, vectors, psi, shares, shifted)


def registry_for(status: StatusSnapshot) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StatusCollector(status))
    return registry


def exposition(status: StatusSnapshot) -> str:
    return generate_latest(registry_for(status)).decode()


def serve(status: StatusSnapshot, port: int, addr: str = "127.0.0.1") -> WSGIServer:
    """Serve ``/metrics`` over HTTP from a daemon thread: the status gauges, read at each scrape, and
    this process's own CPU, memory and open files. ``shutdown()`` the server to stop it."""
    registry = registry_for(status)
    ProcessCollector(registry=registry)
    server, _ = start_http_server(port, addr=addr, registry=registry)
    return server
