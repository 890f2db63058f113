"""The pipeline as jobs, worked inline: only missing or stale work runs, failures end in the
dead-letter queue with their reason, re-driving finishes the asset."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.jobs.model import Delivery, Lane
from mediasift.jobs.runtime import JobContext
from mediasift.operators import default_operators
from mediasift.pipeline.graph import Pipeline
from mediasift.pipeline.operator import Operator, OperatorContext
from mediasift.records import OperatorResult
from mediasift.service import Mediasift

from support import mediagen
from support.plugins import FlakyOcr, LabelsV2

pytestmark = pytest.mark.slow

IMAGE_OPERATORS = {"thumbnail", "phash", "labels", "objects", "ocr", "faces", "embed_text"}


class CorruptInputOcr(FlakyOcr):
    def run(self, ctx: OperatorContext) -> OperatorResult:
        raise PermanentError("this picture cannot be read")


def _with(system: Mediasift, replacement: Operator | None = None) -> Mediasift:
    operators = [replacement if replacement and op.name == replacement.name else op for op in default_operators()]
    system.pipeline = Pipeline(operators)
    system.jobs.pipeline = system.pipeline
    return system


def _image(media_dir: Path) -> Path:
    return mediagen.make_text_image(media_dir / "card.png", "HARVEST FESTIVAL", size=(480, 240))


def _runs(system: Mediasift, asset_id: UUID) -> dict[str, Any]:
    return {name: (run.status, run.operator_version, run.finished_at) for name, run in
            system.describe(asset_id).operators.items()}  # fmt: skip


def _requeue_and_drain(system: Mediasift, asset_id: UUID) -> None:
    system.jobs.enqueue([asset_id], Lane.BATCH)
    system.run_inline(until=lambda: (s := system.broker.stats()).depth == 0 and s.in_flight == 0)


@pytest.fixture
def fast_retries(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_attempts": 2, "retry_base_s": 0.05, "retry_cap_s": 0.1})


def test_every_operator_runs_once_and_a_second_pass_changes_nothing(settings: Settings, media_dir: Path) -> None:
    system = Mediasift(settings)
    report = system.ingest([_image(media_dir)], wait=True)
    asset_id = report.accepted[0].asset_id
    detail = system.describe(asset_id)
    assert detail.status == "done"
    assert set(detail.operators) == IMAGE_OPERATORS
    assert {name: row.state for name, row in detail.jobs.items()} == dict.fromkeys(IMAGE_OPERATORS, "done")
    before = _runs(system, asset_id)
    _requeue_and_drain(system, asset_id)
    assert _runs(system, asset_id) == before, "fresh results are not recomputed"


def test_a_version_bump_reruns_that_operator_and_its_dependents_only(settings: Settings, media_dir: Path) -> None:
    system = Mediasift(settings)
    asset_id = system.ingest([_image(media_dir)], wait=True).accepted[0].asset_id
    before = _runs(system, asset_id)
    _requeue_and_drain(_with(system, LabelsV2()), asset_id)
    after = _runs(system, asset_id)
    assert {name for name in before if before[name] != after[name]} == {"labels", "embed_text"}
    assert after["labels"][1] == "2"


def test_transient_failures_are_retried_then_dead_lettered_then_redriven(
    fast_retries: Settings, media_dir: Path
) -> None:
    system = _with(Mediasift(fast_retries), FlakyOcr())
    report = system.ingest([_image(media_dir)], wait=True)
    asset_id = report.accepted[0].asset_id
    assert report.status[asset_id].status == "failed"
    (dead,) = system.dead_letters()
    assert dead.job.id == f"{asset_id}:ocr" and dead.attempts == 2
    assert dead.error_class == "exhausted" and "not answering" in dead.message
    assert "ConnectionError" in dead.traceback
    detail = system.describe(asset_id)
    assert detail.jobs["ocr"].state == "dead" and "embed_text" not in detail.jobs
    assert detail.operators["ocr"].status == "failed"
    assert detail.operators["labels"].status == "done", "independent operators still ran"

    # redriven under the redriving process's limits, not those it was queued with
    patient = Mediasift(fast_retries.model_copy(update={"max_attempts": 9, "job_timeout_s": 77.0}))
    healed = _with(patient)
    assert healed.redrive(operator="ocr") == 1
    with healed.db.transaction() as conn:
        limits = conn.execute("SELECT max_attempts, timeout_s FROM queue_jobs WHERE id = %s", (dead.job.id,)).fetchone()
    assert limits is not None and (limits["max_attempts"], limits["timeout_s"]) == (9, 77.0)
    healed.wait_for([asset_id])
    detail = healed.describe(asset_id)
    assert detail.status == "done" and detail.jobs["embed_text"].state == "done"
    assert healed.dead_letters() == []
    healed.close()


def test_a_permanent_error_goes_straight_to_the_dead_letter_queue(fast_retries: Settings, media_dir: Path) -> None:
    system = _with(Mediasift(fast_retries), CorruptInputOcr())
    asset_id = system.ingest([_image(media_dir)], wait=True).accepted[0].asset_id
    (dead,) = system.dead_letters()
    assert (dead.attempts, dead.error_class) == (1, "permanent")
    assert "cannot be read" in system.job(f"{asset_id}:ocr").dead_letter.message


def test_a_rotated_video_gets_upright_keyframes(settings: Settings, media_dir: Path) -> None:
    """Stored landscape with the top half red, shown turned 90 degrees clockwise: red on the right."""
    scene = np.zeros((240, 320, 3), np.uint8)
    scene[:120] = (255, 0, 0)
    scene[120:] = (0, 0, 255)
    path = mediagen.make_video(
        media_dir / "portrait.mp4", seconds=2.0, size=(320, 240), rotation=90, scenes=[scene], scene_seconds=2.0
    )
    system = Mediasift(settings)
    asset_id = system.ingest([path], wait=True).accepted[0].asset_id
    detail = system.describe(asset_id)
    assert detail.metadata["rotation"] == 90
    keyframes = [a for a in detail.artifacts if a.kind == "keyframe"]
    assert keyframes and all((k.data["width"], k.data["height"]) == (240, 320) for k in keyframes)
    pixels = np.asarray(Image.open(io.BytesIO(system.blobs.read_bytes(keyframes[0].blob_sha256))))
    right, left = pixels[:, -20:].reshape(-1, 3).mean(axis=0), pixels[:, :20].reshape(-1, 3).mean(axis=0)
    assert right[0] > 200 > right[2], "the stored top (red) is on the right"
    assert left[2] > 200 > left[0]


def test_reprocess_after_a_version_bump_runs_exactly_that_operator_and_its_dependents(
    settings: Settings, media_dir: Path
) -> None:
    system = Mediasift(settings)
    image = system.ingest([_image(media_dir)], wait=True).accepted[0].asset_id
    text = system.ingest([mediagen.make_text_file(media_dir / "t.txt", "Plain words.")], wait=True).accepted[0].asset_id
    assert system.reprocess().queued == {}, "nothing is stale"
    before = {a: _runs(system, a) for a in (image, text)}

    bumped = Mediasift(settings.model_copy(update={"operator_plugins": "support.plugins:LabelsV2"}))
    plan = bumped.reprocess()
    assert plan.queued == {"labels": 1} and plan.assets == [image]
    bumped.wait_for(plan.assets)
    after = {a: _runs(bumped, a) for a in (image, text)}
    changed = {name for name in before[image] if before[image][name] != after[image][name]}
    assert changed == {"labels", "embed_text"}
    assert after[text] == before[text]
    assert bumped.reprocess().queued == {}


def test_reprocess_errors_only_retries_what_failed(fast_retries: Settings, media_dir: Path) -> None:
    broken = Mediasift(fast_retries.model_copy(update={"operator_plugins": "support.plugins:FlakyOcr"}))
    asset_id = broken.ingest([_image(media_dir)], wait=True).accepted[0].asset_id
    assert broken.describe(asset_id).status == "failed"
    healed = Mediasift(fast_retries)
    assert healed.reprocess(errors_only=True, operator="labels").queued == {}
    plan = healed.reprocess(errors_only=True)
    assert plan.queued == {"ocr": 1}
    healed.wait_for([asset_id])
    detail = healed.describe(asset_id)
    assert detail.status == "done" and detail.jobs["embed_text"].state == "done"
    assert healed.dead_letters() == []


def test_each_text_chunk_carries_its_own_language(settings: Settings, media_dir: Path) -> None:
    english = "The harbour master counted the fishing boats every evening before the storm arrived. " * 3
    german = "Der Hafenmeister zählte jeden Abend die Fischerboote, bevor der Sturm über die Küste zog. " * 3
    path = mediagen.make_text_file(media_dir / "mixed.txt", english + "\n\n" + german)
    system = Mediasift(settings.model_copy(update={"text_chunk_chars": 300, "text_chunk_overlap_chars": 0}))
    asset_id = system.ingest([path], wait=True).accepted[0].asset_id
    with system.db.connect() as conn:
        rows = conn.execute(
            "SELECT text, data->>'language' AS language FROM segments WHERE asset_id = %s AND kind = 'text_chunk' "
            "ORDER BY key",
            (asset_id,),
        ).fetchall()
    languages = [row["language"] for row in rows]
    assert languages[0] == "en" and languages[-1] == "de"
    assert all(row["language"] == ("de" if "Hafenmeister" in row["text"] else "en") for row in rows)


def test_a_worker_killed_between_commit_and_publish_loses_no_follow_up(
    settings: Settings, media_dir: Path, redis_server: str
) -> None:
    """With Redis the follow-up jobs are published after the results commit. A worker killed in
    between leaves them marked queued but never sent; the redelivered job must send them."""
    on_redis = settings.model_copy(update={"broker_url": redis_server, "queue_namespace": f"kill-{media_dir.name}"})
    system = Mediasift(on_redis)
    text = mediagen.make_text_file(media_dir / "note.txt", "The ferry to the island leaves at noon.")
    asset_id = system.ingest([text]).accepted[0].asset_id
    (delivery,) = system.broker.fetch("test", {Lane.INTERACTIVE: 1, Lane.BATCH: 1}, wait_s=5)
    assert delivery.job.payload["operator"] == "text_chunks"

    first = JobContext(delivery=delivery, broker=system.broker)
    system.jobs.handle(delivery.job, first)
    assert [job.payload["operator"] for job in first.follow_ups] == ["embed_text"]
    # ... and the worker dies here: nothing published, nothing acked. The job comes back:
    again = JobContext(delivery=Delivery(delivery.job, attempt=2, handle=delivery.handle), broker=system.broker)
    system.jobs.handle(delivery.job, again)
    assert [job.payload["operator"] for job in again.follow_ups] == ["embed_text"], "sent this time"
    system.broker.publish(again.follow_ups)
    system.broker.ack([delivery])
    system.wait_for([asset_id])
    assert system.asset_states([asset_id])[asset_id].status == "done"
    system.close()
