"""A pluggable CLIP-style image-text model: two ONNX towers in a folder that the user configures.

No such weights ship with mediasift (none can be had offline here); ``MEDIASIFT_CLIP_DIR`` points at
a folder laid out as docs/inference.md describes:

- ``config.json``: name, version, dim, image_size, mean, std, context_length, and optionally
  logit_scale (100), min_similarity (0.2), tag_prompt ("a photo of {}.") and pad_id;
- ``image.onnx``: float32 pixels N x 3 x S x S, already normalised, to N x dim;
- ``text.onnx``: int64 ``input_ids`` N x L (and ``attention_mask`` N x L when it takes one) to N x dim;
- ``tokenizer.json``: a HuggingFace ``tokenizers`` tokenizer;
- ``tags.txt`` (optional): one zero-shot tag per line.

The folder is checked when the model loads, and a problem is named in plain words: a missing file,
a bad config value, an input mediasift cannot fill, towers whose vectors differ in size. The
model's version is config.json's version plus a hash of the weights, so new weights are new lineage.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator

from mediasift.models import ModelRef
from mediasift.models.onnx_options import session_options
from mediasift.models.weights import ModelWeightsMissing, as_rgb_uint8

REQUIRED_FILES = ("config.json", "image.onnx", "text.onnx", "tokenizer.json")
TAGS_FILE = "tags.txt"
BATCH_SIZE = 16
_TAG_CACHE_SIZE = 8
_INT_TYPES: dict[str, type[np.integer[Any]]] = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}

Vectors = npt.NDArray[np.float32]


class ClipFolderError(ModelWeightsMissing):
    """The configured CLIP folder lacks a file or holds something mediasift cannot use."""


class ClipConfig(BaseModel):
    """config.json. Unknown keys are refused, so a misspelt optional key is not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    dim: int = Field(gt=0)
    image_size: int = Field(gt=0)
    mean: tuple[float, float, float]
    std: tuple[PositiveFloat, PositiveFloat, PositiveFloat]
    context_length: int = Field(gt=0)
    logit_scale: PositiveFloat = 100.0
    min_similarity: float = Field(default=0.2, ge=-1.0, le=1.0)  # search: pictures less similar are left out
    tag_prompt: str = "a photo of {}."
    pad_id: int | None = Field(default=None, ge=0)

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _three_channels(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != 3:
            raise ValueError("must be 3 numbers, one per channel (R, G, B)")
        return value

    @field_validator("tag_prompt")
    @classmethod
    def _one_slot(cls, value: str) -> str:
        if value.count("{}") != 1:
            raise ValueError("must hold exactly one {} where the tag goes")
        return value


def read_config(folder: Path) -> ClipConfig:
    path = folder / "config.json"
    try:
        return ClipConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ClipFolderError(f"cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise ClipFolderError(f"bad {path}: {problems}") from exc


def weight_files(folder: Path) -> list[Path]:
    """The files that make the model (external ONNX weights ``*.data`` included), checked to exist."""
    if not folder.is_dir():
        raise ClipFolderError(f"the CLIP folder {folder} (MEDIASIFT_CLIP_DIR) does not exist")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ClipFolderError(
            f"the CLIP folder {folder} lacks {', '.join(missing)}; see docs/inference.md for the layout"
        )
    return [folder / name for name in REQUIRED_FILES] + sorted(folder.glob("*.data"))


def weights_digest(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


# -- the model ------------------------------------------------------------------------------------


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ONNX Runtime raises its own (pybind) exception types
        raise ClipFolderError(f"{path} is not a model ONNX Runtime can load: {exc}") from exc


def _output_name(session: Any, path: Path, preferred: str) -> str:
    """The output holding the embeddings: one named ``preferred``, else the first N x D one."""
    outputs = session.get_outputs()
    for out in outputs:
        if out.name == preferred:
            return str(out.name)
    for out in outputs:
        if len(out.shape) == 2:
            return str(out.name)
    shapes = ", ".join(f"{o.name} {o.shape}" for o in outputs)
    raise ClipFolderError(f"{path} has no N x D output (it has: {shapes})")


@dataclass(frozen=True)
class _TextInputs:
    ids: str
    ids_type: type[np.integer[Any]]
    mask: str | None
    width: int | None  # the sequence length when the model fixes it


def _text_inputs(session: Any, path: Path, config: ClipConfig) -> _TextInputs:
    inputs = {i.name: i for i in session.get_inputs()}
    if "input_ids" in inputs:
        ids = inputs["input_ids"]
    elif len(inputs) == 1:
        ids = next(iter(inputs.values()))
    else:
        raise ClipFolderError(f"{path} takes {', '.join(inputs)}; it must take input_ids (and attention_mask)")
    mask = "attention_mask" if "attention_mask" in inputs and ids.name != "attention_mask" else None
    if others := set(inputs) - {ids.name, mask}:
        raise ClipFolderError(f"{path} takes inputs mediasift cannot fill: {', '.join(sorted(others))}")
    if ids.type not in _INT_TYPES:
        raise ClipFolderError(f"{path}: {ids.name} must be int64 token ids, not {ids.type}")
    width = ids.shape[1] if len(ids.shape) == 2 and isinstance(ids.shape[1], int) else None
    if width is not None and width != config.context_length:
        raise ClipFolderError(
            f"{path} takes {width} tokens but config.json says context_length {config.context_length}"
        )
    return _TextInputs(ids.name, _INT_TYPES[ids.type], mask, width)


def _check_image_input(session: Any, path: Path, config: ClipConfig) -> str:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ClipFolderError(f"{path} must take one input (pixels N x 3 x H x W), not {len(inputs)}")
    pixels = inputs[0]
    if pixels.type != "tensor(float)" or len(pixels.shape) != 4:
        raise ClipFolderError(f"{path} must take float32 pixels N x 3 x H x W, not {pixels.type} {pixels.shape}")
    channels, height, width = pixels.shape[1:]
    if isinstance(channels, int) and channels != 3:
        raise ClipFolderError(f"{path} takes {channels} channels; it must take 3 (RGB)")
    for side in (height, width):
        if isinstance(side, int) and side != config.image_size:
            raise ClipFolderError(
                f"{path} takes {height} x {width} pictures but config.json says image_size {config.image_size}"
            )
    return str(pixels.name)


def _tokenizer(path: Path, config: ClipConfig) -> tuple[Any, int]:
    """The tokenizer, truncating at the context length, and the id to pad with."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises plain Exception
        raise ClipFolderError(f"{path} is not a HuggingFace tokenizers file: {exc}") from exc
    own_padding = tokenizer.padding
    pad_id = config.pad_id if config.pad_id is not None else (own_padding or {}).get("pad_id", 0)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=config.context_length)
    return tokenizer, int(pad_id)


def _unit(rows: npt.NDArray[Any]) -> Vectors:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.clip(norms, 1e-12, None)).astype(np.float32)


class ClipModel:
    """Both towers, their pre-processing, and zero-shot tagging. Every vector it returns is a unit
    vector, so a dot product is the cosine similarity between pictures and texts."""

    def __init__(self, folder: Path, ref: ModelRef, threads: int) -> None:
        self.folder = folder
        self.ref = ref
        self.config = read_config(folder)
        image_path, text_path = folder / "image.onnx", folder / "text.onnx"
        self._image = _session(image_path, threads)
        self._image_input = _check_image_input(self._image, image_path, self.config)
        self._image_output = _output_name(self._image, image_path, "image_embeds")
        self._text = _session(text_path, threads)
        self._text_inputs = _text_inputs(self._text, text_path, self.config)
        self._text_output = _output_name(self._text, text_path, "text_embeds")
        self._tokenizer, self._pad_id = _tokenizer(folder / "tokenizer.json", self.config)
        mean, std = np.array(self.config.mean, np.float32), np.array(self.config.std, np.float32)
        self._scale = (1.0 / (255.0 * std)).astype(np.float32)
        self._shift = (mean / std).astype(np.float32)
        self._tag_vectors: dict[tuple[str, ...], Vectors] = {}
        self._lock = threading.Lock()
        self._probe()

    @property
    def dim(self) -> int:
        return self.config.dim

    def _probe(self) -> None:
        """Run each tower once, so towers that disagree fail at load and not in a job."""
        size = self.config.image_size
        image = self._image_forward(self.preprocess(np.zeros((size, size, 3), np.uint8))[None])
        text = self._text_forward(["a photo"])
        if image.shape[1] != text.shape[1]:
            raise ClipFolderError(
                f"in {self.folder} the image tower gives {image.shape[1]}-d vectors and the text tower "
                f"{text.shape[1]}-d: the two must share one embedding space"
            )
        if image.shape[1] != self.config.dim:
            raise ClipFolderError(
                f"{self.folder}/config.json says dim {self.config.dim} but the towers give {image.shape[1]}-d vectors"
            )

    def preprocess(self, pixels: npt.NDArray[Any]) -> Vectors:
        """CLIP's recipe: shorter side resized to the input size (bicubic), centre crop, scaled to
        0..1 and normalised with config.json's mean and std; returned as 3 x S x S."""
        size = self.config.image_size
        image = Image.fromarray(as_rgb_uint8(pixels))
        scale = size / min(image.size)
        width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
        normalised = np.asarray(image, np.float32) * self._scale - self._shift
        return np.ascontiguousarray(normalised.transpose(2, 0, 1))

    def _image_forward(self, batch: Vectors) -> Vectors:
        out = np.asarray(self._image.run([self._image_output], {self._image_input: batch})[0])
        if out.ndim != 2:
            raise ClipFolderError(f"{self.folder}/image.onnx gives {out.shape}, not N x D")
        return _unit(out)

    def _text_forward(self, texts: Sequence[str]) -> Vectors:
        inputs = self._text_inputs
        encodings = self._tokenizer.encode_batch(list(texts))
        width = inputs.width or max(1, *(len(e.ids) for e in encodings))
        ids = np.full((len(encodings), width), self._pad_id, dtype=inputs.ids_type)
        mask = np.zeros((len(encodings), width), dtype=inputs.ids_type)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {inputs.ids: ids} | ({inputs.mask: mask} if inputs.mask else {})
        out = np.asarray(self._text.run([self._text_output], feeds)[0])
        if out.ndim != 2:
            raise ClipFolderError(f"{self.folder}/text.onnx gives {out.shape}, not N x D")
        return _unit(out)

    def embed_images(self, images: Sequence[npt.NDArray[Any]]) -> Vectors:
        """Unit vectors of HxWx3 uint8 RGB pictures, (n, dim), rows in input order."""
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), BATCH_SIZE):
            chunk = images[start : start + BATCH_SIZE]
            batch = np.stack([self.preprocess(image) for image in chunk])
            out[start : start + len(chunk)] = self._image_forward(batch)
        return out

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of ``texts`` in the pictures' space, (n, dim), rows in input order."""
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not a single str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH_SIZE):
            chunk = texts[start : start + BATCH_SIZE]
            out[start : start + len(chunk)] = self._text_forward(chunk)
        return out

    def __call__(self, images: Sequence[npt.NDArray[Any]]) -> list[Vectors]:
        """:meth:`embed_images`, one vector per picture."""
        return list(self.embed_images(images))

    def tag_probabilities(self, image_vectors: Vectors, tags: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each picture vector, every tag with its probability (a softmax over the tags of the
        cosine similarities times logit_scale), most likely first."""
        if not tags:
            return [[] for _ in range(len(image_vectors))]
        logits = self.config.logit_scale * (image_vectors @ self._tag_text_vectors(tuple(tags)).T)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [sorted(zip(tags, map(float, row), strict=True), key=lambda pair: -pair[1]) for row in probabilities]

    def zero_shot(self, images: Sequence[npt.NDArray[Any]], tags: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each picture, every tag with its probability, most likely first."""
        return self.tag_probabilities(self.embed_images(images), tags)

    def _tag_text_vectors(self, tags: tuple[str, ...]) -> Vectors:
        """The tags' text vectors (each put in the prompt), kept for the few tag lists last used."""
        with self._lock:
            cached = self._tag_vectors.get(tags)
        if cached is not None:
            return cached
        vectors = self.embed_texts([self.config.tag_prompt.format(tag) for tag in tags])
        with self._lock:
            if len(self._tag_vectors) >= _TAG_CACHE_SIZE:
                self._tag_vectors.clear()
            self._tag_vectors[tags] = vectors
        return vectors


def clip_ref(folder: Path, config: ClipConfig, files: Sequence[Path]) -> ModelRef:
    """The model's identity: config.json's name and version, and a hash of the weights, so new
    weights are new lineage."""
    return ModelRef(f"clip/{config.name}/{config.dim}", f"{config.version}+{weights_digest(files)[:12]}")
