"""The in-process runner: only missing or stale work runs, failures are recorded and contained."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.mediatype import MediaType
from mediasift.operators import default_operators
from mediasift.operators.labels import Labels
from mediasift.pipeline.graph import Pipeline
from mediasift.pipeline.operator import Operator, OperatorContext, OperatorResult
from mediasift.service import Mediasift

import mediagen

pytestmark = pytest.mark.slow


class LabelsV2(Labels):
    version = "2"


class BrokenOcr(Operator):
    name = "ocr"
    version = "1"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        raise RuntimeError("the OCR model fell over")


def _with(system: Mediasift, replacement: Operator) -> Mediasift:
    operators = [replacement if op.name == replacement.name else op for op in default_operators()]
    system.runner.pipeline = Pipeline(operators)
    return system


def _image(media_dir: Path) -> Path:
    return mediagen.make_text_image(media_dir / "card.png", "HARVEST FESTIVAL", size=(480, 240))


def _run_times(system: Mediasift, asset_id: object) -> dict[str, str]:
    detail = system.describe(asset_id)  # type: ignore[arg-type]
    return {name: str(run["finished_at"]) for name, run in detail["operators"].items()}


def test_processing_twice_runs_nothing_the_second_time(settings: Settings, media_dir: Path) -> None:
    system = Mediasift(settings)
    report = system.ingest([_image(media_dir)], wait=True)
    asset_id = report.accepted[0].asset_id
    assert report.outcomes[0].status == "done"
    assert set(report.outcomes[0].ran) == {"thumbnail", "phash", "labels", "objects", "ocr", "embed_text"}
    again = system.process(asset_id)
    assert again.ran == [] and again.status == "done"


def test_a_version_bump_reruns_that_operator_and_its_dependents_only(
    settings: Settings, media_dir: Path
) -> None:
    system = Mediasift(settings)
    asset_id = system.ingest([_image(media_dir)], wait=True).accepted[0].asset_id
    before = _run_times(system, asset_id)
    outcome = _with(system, LabelsV2()).process(asset_id)
    assert outcome.ran == ["labels", "embed_text"]
    after = _run_times(system, asset_id)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"labels", "embed_text"}
    assert system.describe(asset_id)["operators"]["labels"]["operator_version"] == "2"


def test_a_failing_operator_is_recorded_and_its_dependents_do_not_run(
    settings: Settings, media_dir: Path
) -> None:
    system = _with(Mediasift(settings), BrokenOcr())
    report = system.ingest([_image(media_dir)], wait=True)
    outcome = report.outcomes[0]
    assert outcome.status == "failed"
    assert "the OCR model fell over" in outcome.failed["ocr"]
    assert outcome.failed["embed_text"] == "not run: ocr failed"
    detail = system.describe(outcome.asset_id)
    assert detail["status"] == "failed"
    assert detail["operators"]["ocr"]["status"] == "failed"
    assert "RuntimeError" in detail["operators"]["ocr"]["error"]
    assert detail["operators"]["labels"]["status"] == "done", "independent operators still ran"
    assert not [a for a in detail["artifacts"] if a["operator"] in ("ocr", "embed_text")]

    healed = _with(system, default_operators()[[op.name for op in default_operators()].index("ocr")])
    retry = healed.process(outcome.asset_id)
    assert retry.status == "done" and retry.ran == ["ocr", "embed_text"]
    assert any(a["kind"] == "ocr" for a in healed.describe(outcome.asset_id)["artifacts"])


def test_a_rotated_video_gets_upright_keyframes(settings: Settings, media_dir: Path) -> None:
    """Stored landscape with the top half red, shown turned 90 degrees clockwise: red on the right."""
    scene = np.zeros((240, 320, 3), np.uint8)
    scene[:120] = (255, 0, 0)
    scene[120:] = (0, 0, 255)
    path = mediagen.make_video(
        media_dir / "portrait.mp4",
        seconds=2.0,
        size=(320, 240),
        rotation=90,
        scenes=[scene],
        scene_seconds=2.0,
    )
    system = Mediasift(settings)
    asset_id = system.ingest([path], wait=True).accepted[0].asset_id
    detail = system.describe(asset_id)
    assert detail["metadata"]["rotation"] == 90
    keyframes = [a for a in detail["artifacts"] if a["kind"] == "keyframe"]
    assert keyframes and all((k["data"]["width"], k["data"]["height"]) == (240, 320) for k in keyframes)
    pixels = np.asarray(Image.open(io.BytesIO(system.blobs.read_bytes(keyframes[0]["blob_sha256"]))))
    right, left = pixels[:, -20:].reshape(-1, 3).mean(axis=0), pixels[:, :20].reshape(-1, 3).mean(axis=0)
    assert right[0] > 200 > right[2], "the stored top (red) is on the right"
    assert left[2] > 200 > left[0]
