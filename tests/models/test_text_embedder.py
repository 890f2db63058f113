"""MiniLM run in int8 (models/dynamic_int8.py): it computes in int8, its vectors stay those of the shipped
float graph within quantization's error, and the quantized graph is built once and read from the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from mediasift.models import dynamic_int8
from mediasift.models.text_embedder import QUANTIZED, TextEmbedder, weight_files

from support.built_models import not_built

SENTENCES = [
    "The cat is sleeping on the warm windowsill.",
    "Quarterly revenue grew by twelve percent compared to last year.",
    "Heavy rain is expected across the north of the country tomorrow.",
    "The ferry to the island leaves every morning at seven.",
    "Add the flour slowly and knead the dough for ten minutes.",
]


def float_vectors(texts: list[str]) -> np.ndarray:
    """The shipped graph's vectors (float compute), with the embedder's recipe: mean over the tokens, unit length."""
    model, tokenizer_json = weight_files()
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_padding()  # its file pads to 128 tokens
    names = {i.name for i in session.get_inputs()}
    rows = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feeds.items() if k in names})[0][0]
        pooled = hidden.mean(axis=0)
        rows.append(pooled / np.linalg.norm(pooled))
    return np.stack(rows)


@pytest.mark.slow
def test_the_quantized_embedder_computes_in_int8_close_to_the_float_graph(tmp_path: Path) -> None:
    embedder = TextEmbedder(threads=1, built_models=tmp_path).load()
    (entry,) = tmp_path.iterdir()
    ops = {node.op_type for node in onnx.load(str(entry / QUANTIZED)).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops, ops
    quantized = np.stack([embedder.embed([text])[0] for text in SENTENCES])
    exact = float_vectors(SENTENCES)
    cosines = (quantized * exact).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    # each sentence is still nearest its own float vector: the ranking the stored vectors give is kept
    assert list(np.argmax(quantized @ exact.T, axis=1)) == list(range(len(SENTENCES)))


@pytest.mark.slow
def test_the_quantized_graph_is_built_once_and_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TextEmbedder(threads=1, built_models=tmp_path).load().embed(SENTENCES)
    with not_built(monkeypatch, dynamic_int8, "quantize"):
        again = TextEmbedder(threads=1, built_models=tmp_path).load().embed(SENTENCES)
    np.testing.assert_array_equal(first, again)


@pytest.mark.slow
def test_a_damaged_quantized_graph_is_built_again(tmp_path: Path) -> None:
    TextEmbedder(threads=1, built_models=tmp_path).load()
    (entry,) = tmp_path.iterdir()
    whole = (entry / QUANTIZED).stat().st_size
    (entry / QUANTIZED).write_bytes((entry / QUANTIZED).read_bytes()[: whole // 3])
    vectors = TextEmbedder(threads=1, built_models=tmp_path).load().embed(SENTENCES[:2])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (entry / QUANTIZED).stat().st_size == whole


@pytest.mark.slow
def test_without_a_writable_cache_the_graph_is_built_and_not_kept(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    vectors = TextEmbedder(threads=1, built_models=blocked / "built").load().embed(SENTENCES[:1])
    assert vectors.shape == (1, TextEmbedder.dim)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]
