"""WordLlama static text embeddings (256-d): a token-embedding average, no transformer.

About fifty times cheaper than MiniLM per sentence and close to it on easy matches (paraphrases
that share words), weaker on meaning carried by word order or by words it has never seen together.
That makes it the cheap tier: near-duplicate text and pre-filtering, or all text embedding where
``MEDIASIFT_TEXT_EMBEDDING_TIER=wordllama`` asks for it (see docs/inference.md for the numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.models import ModelRef
from mediasift.models.weights import package_dir, package_file

DIM = 256


class StaticEmbedder:
    ref = ModelRef("dleemiller/wordllama-l2-supercat-256", "wordllama==0.4.0.post1;lowercased")
    dim = DIM

    def __init__(self) -> None:
        from wordllama import WordLlama

        weight_files()
        # The package looks for its tokenizer in the wrong folder unless told its own (MODELS.md).
        self._model: Any = WordLlama.load(cache_dir=package_dir("wordllama"), disable_download=True, dim=DIM)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        """(n, 256) float32 unit vectors, rows in input order. ``batch_size`` is accepted for the
        embedders' common signature; an average of token vectors needs no batching."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # Its vocabulary is case-sensitive and a capitalised word is often another, rarer token:
        # lower-casing first took all-capitals copies from 65% to 100% found (eval/text_tiers.py).
        return np.asarray(self._model.embed([t.lower() for t in texts], norm=True), dtype=np.float32)

    def __call__(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """:meth:`embed`, one vector per text."""
        return list(self.embed(texts))


def weight_files() -> list[Path]:
    return [package_file("wordllama", "weights", "l2_supercat_256.safetensors")]
