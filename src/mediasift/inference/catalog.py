"""All the models this installation has: the shipped ones, and those the settings point at (a
remote endpoint, a CLIP folder). Importing a model module declares its model in the registry."""

from __future__ import annotations

import importlib
from typing import Any

from mediasift.config import Settings
from mediasift.inference import devices
from mediasift.inference.registry import ModelRegistry, registry

SHIPPED = (
    "mediasift.models.text_embedder",
    "mediasift.models.static_embedder",
    "mediasift.models.image_classifier",
    "mediasift.models.object_detector",
    "mediasift.models.face_detector",
    "mediasift.models.ocr",
    "mediasift.models.tesseract_ocr",
    "mediasift.models.transcriber",
    "mediasift.models.vad",
    "mediasift.models.audio_events",
    "mediasift.models.language",
)


def declared(settings: Settings) -> ModelRegistry:
    """The registry with every shipped model and every configured one declared."""
    for module in SHIPPED:
        importlib.import_module(module)
    from mediasift.inference.remote import declare_remote_models
    from mediasift.models.clip import declare_clip

    declare_remote_models(settings)
    declare_clip(settings)
    return registry


def listing(settings: Settings, counters: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each model with its declaration, its state in this process, and what every process using
    this database has counted for it (``counters`` from :func:`mediasift.inference.usage.read`)."""
    models = declared(settings)
    problems = models.check()
    out = []
    for handle in models.handles():
        spec = handle.spec
        if spec.id in problems:
            state = "missing"
        elif handle.loaded:
            state = "loaded"
        else:
            state = "available"
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
                "problem": problems.get(spec.id),
                "load_seconds": handle.load_seconds,
                "device": _device(spec.runtime.value),
                "counters": counters.get(spec.id, {}),
            }
        )
    return out


def _device(runtime: str) -> str:
    if runtime == "onnxruntime":
        return "cuda" if devices.onnx_providers()[0] == "CUDAExecutionProvider" else "cpu"
    if runtime == "ctranslate2":
        return devices.ctranslate2_device()
    if runtime == "remote-http":
        return "remote"
    return "cpu"
