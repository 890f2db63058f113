"""Which accelerator the models run on, and what NVML says about the GPUs.

ONNX Runtime uses its CUDA provider when the installed build has one and a GPU is visible;
CTranslate2 uses its CUDA device when it counts one. Nothing here requires a GPU: on a machine
without one every model runs on the CPU and :func:`gpu_stats` is empty.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from typing import Any


@functools.cache
def onnx_providers() -> list[str]:
    """ONNX Runtime execution providers, best first."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if "CUDAExecutionProvider" in available and gpu_count() > 0:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@functools.cache
def ctranslate2_device() -> str:
    """ "cuda" when CTranslate2 sees a CUDA device, else "cpu"."""
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except (ImportError, RuntimeError):
        return "cpu"


@functools.cache
def _nvml() -> Any:
    """The initialised NVML module, or None without an NVIDIA driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no library, no driver, no device: all mean "no GPU"
        return None


def gpu_count() -> int:
    nvml = _nvml()
    return int(nvml.nvmlDeviceGetCount()) if nvml else 0


@dataclass(frozen=True)
class GpuStats:
    index: int
    name: str
    memory_used_bytes: int
    memory_total_bytes: int
    utilization_percent: float


def gpu_stats() -> list[GpuStats]:
    """Memory and utilisation of every NVIDIA GPU, read through NVML now."""
    nvml = _nvml()
    if nvml is None:
        return []
    out = []
    for index in range(nvml.nvmlDeviceGetCount()):
        device = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(device)
        name = nvml.nvmlDeviceGetName(device)
        out.append(
            GpuStats(
                index=index,
                name=name.decode() if isinstance(name, bytes) else str(name),
                memory_used_bytes=int(memory.used),
                memory_total_bytes=int(memory.total),
                utilization_percent=float(nvml.nvmlDeviceGetUtilizationRates(device).gpu),
            )
        )
    return out


def runtime_device(runtime: str) -> str:
    """Where models of a runtime run here: "cuda", "cpu", or "remote"."""
    if runtime == "onnxruntime":
        return "cuda" if onnx_providers()[0] == "CUDAExecutionProvider" else "cpu"
    if runtime == "ctranslate2":
        return ctranslate2_device()
    if runtime == "remote-http":
        return "remote"
    return "cpu"


def describe() -> str:
    """One line naming the device the models run on, for benchmark output."""
    gpus = gpu_stats()
    if gpus and onnx_providers()[0] == "CUDAExecutionProvider":
        return f"GPU: {gpus[0].name} (ONNX Runtime CUDA, CTranslate2 {ctranslate2_device()})"
    if gpus:
        return f"CPU: {os.cpu_count()} cores; GPU {gpus[0].name} present, but this ONNX Runtime has no CUDA provider"
    return f"CPU: {os.cpu_count()} cores ({platform.machine()}), no GPU"
