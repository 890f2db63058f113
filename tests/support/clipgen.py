"""A tiny CLIP-style model, exported with ``onnx.helper`` into the folder layout mediasift reads.

No real image-text weights exist here, so the tests make their own: the image tower averages each
colour channel of the (normalised) picture and projects the three means into 8 dimensions; the text
tower looks up a 3-d vector per token, averages them over the attention mask and projects them the
same way. Colour words get the vector of their colour (red = (+1, -1, -1): full red, no green, no
blue once normalised to -1..1), other words get zeros. So "a red picture" lands on a pure red
picture's vector, which is what text-to-image search and zero-shot tagging need to show they work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

DIM = 8
IMAGE_SIZE = 32
CONTEXT_LENGTH = 16
OPSET = 17

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1, -1, -1),
    "green": (-1, 1, -1),
    "blue": (-1, -1, 1),
    "yellow": (1, 1, -1),
    "white": (1, 1, 1),
    "black": (-1, -1, -1),
}
RGB: dict[str, tuple[int, ...]] = {name: tuple(255 if c > 0 else 0 for c in v) for name, v in COLOURS.items()}
FILLER = ("a", "an", "the", "photo", "picture", "image", "of", "some")
VOCAB = ["[PAD]", "[UNK]", *COLOURS, *FILLER]


def projection(dim: int, seed: int = 7) -> np.ndarray:
    """3 x dim with orthonormal rows: colour space placed at a random angle in the embedding space."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(max(dim, 3), max(dim, 3))))
    return q[:3, :dim].astype(np.float32)


def _image_tower(dim: int, seed: int) -> onnx.ModelProto:
    pixels = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["n", 3, IMAGE_SIZE, IMAGE_SIZE])
    out = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["n", dim])
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["pixel_values"], ["means"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["means", "projection"], ["image_embeds"]),
        ],
        "tiny_clip_image",
        [pixels],
        [out],
        initializer=[numpy_helper.from_array(projection(dim, seed), "projection")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _text_tower(dim: int, seed: int) -> onnx.ModelProto:
    table = np.zeros((len(VOCAB), 3), np.float32)
    for index, word in enumerate(VOCAB):
        table[index] = COLOURS.get(word, (0.0, 0.0, 0.0))
    constants = {
        "token_table": table,
        "projection": projection(dim, seed),
        "axis_2": np.array([2], np.int64),
        "axis_1": np.array([1], np.int64),
        "one": np.array(1.0, np.float32),
    }
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", "length"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["n", "length"])
    out = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["n", dim])
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["token_table", "input_ids"], ["tokens"], axis=0),
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "axis_2"], ["mask_3"]),
            helper.make_node("Mul", ["tokens", "mask_3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "axis_1"], ["summed"], keepdims=0),
            helper.make_node("ReduceSum", ["mask_3", "axis_1"], ["count"], keepdims=0),
            helper.make_node("Max", ["count", "one"], ["count_1"]),
            helper.make_node("Div", ["summed", "count_1"], ["pooled"]),
            helper.make_node("MatMul", ["pooled", "projection"], ["text_embeds"]),
        ],
        "tiny_clip_text",
        [ids, mask],
        [out],
        initializer=[numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def config(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "tiny-colour-clip",
        "version": "1",
        "dim": DIM,
        "image_size": IMAGE_SIZE,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "context_length": CONTEXT_LENGTH,
        "logit_scale": 100.0,
        **overrides,
    }


def export_tiny_clip(
    folder: Path, *, text_dim: int = DIM, seed: int = 7, tags: Sequence[str] = (), **config_overrides: Any
) -> Path:
    """Write the tiny model into ``folder``; ``text_dim`` other than the image tower's makes a broken
    pair, another ``seed`` other weights, ``config_overrides`` change or add config.json keys, and
    ``tags`` go to tags.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(_image_tower(DIM, seed), folder / "image.onnx")
    onnx.save(_text_tower(text_dim, seed), folder / "text.onnx")
    _tokenizer().save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps(config(**config_overrides), indent=2))
    if tags:
        (folder / "tags.txt").write_text("# colours\n" + "\n".join(tags) + "\n")
    return folder


def solid(colour: str, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """An H x W x 3 uint8 picture of one colour."""
    return np.full((*size, 3), RGB[colour], np.uint8)
