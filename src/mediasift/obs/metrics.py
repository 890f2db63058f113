"""Prometheus metrics read from the system of record at scrape time, so any process (a worker, the
CLI, the API) reports the same numbers as ``mediasift status``. They read a status snapshot as plain
data (``Status.model_dump()``), taken at each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

StatusSnapshot = Callable[[], Mapping[str, Any]]


class StatusCollector(Collector):
    """Turns a ``Mediasift.status()`` snapshot into gauges."""

    def __init__(self, status: StatusSnapshot) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
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


def _confidence_metrics(report: dict[str, dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    labels = ["operator", "kind", "window"]
    quantiles = GaugeMetricFamily(
        "mediasift_confidence", "Result confidence quantiles, recent window and baseline", labels=[*labels, "quantile"]
    )
    counts = GaugeMetricFamily("mediasift_confidence_results", "Results with a confidence, per window", labels=labels)
    psi = GaugeMetricFamily(
        "mediasift_confidence_drift_psi", "Population stability index, recent vs baseline", labels=["operator", "kind"]
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
    yield from (quantiles, counts, psi)


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
