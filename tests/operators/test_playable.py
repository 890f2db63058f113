"""The playable-copy operator in the pipeline: an HEVC phone video gets an H.264 copy stored beside its
original, an H.264 one gets none; a copy past its time is given up with the reason, and settings can
turn copies off."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import av
import pytest

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.playable import PlayableCopy
from mediasift.service import Mediasift

from support import mediagen
from support.contexts import memory_context

HEVC_META = {"container": "mp4", "video_codec": "hevc", "pixel_format": "yuv420p", "has_audio": False}


@pytest.mark.slow
def test_an_hevc_video_gets_a_stored_h264_copy_and_an_h264_video_none(settings: Settings, media_dir: Path) -> None:
    phone = mediagen.make_video(media_dir / "phone.mp4", 2.0, size=(640, 360), codec="hevc")
    camera = mediagen.make_video(media_dir / "camera.mp4", 2.0, size=(640, 360))
    with closing(Mediasift(settings)) as system:
        accepted = {Path(a.path).name: a.asset_id for a in system.ingest([phone, camera], wait=True).accepted}
        phone_copy = [a for a in system.describe(accepted["phone.mp4"]).artifacts if a.kind == "playable"]
        camera_kinds = {a.kind for a in system.describe(accepted["camera.mp4"]).artifacts}
        assert len(phone_copy) == 1 and phone_copy[0].blob_sha256
        stored = system.blobs.local_path(phone_copy[0].blob_sha256)
        with av.open(str(stored)) as played:
            picture = played.streams.video[0]
            assert (picture.codec_context.name, picture.width, picture.height) == ("h264", 640, 360)
            assert sum(1 for _ in played.decode(picture)) == 50
    assert phone_copy[0].data == {"reason": "hevc video", "mime": "video/mp4", "width": 640, "height": 360,
                                  "seconds": pytest.approx(1.96, abs=0.01)}  # fmt: skip
    assert "playable" not in camera_kinds and "thumbnail" in camera_kinds


def _run(settings: Settings, path: Path) -> tuple[list, dict[str, bytes]]:
    blobs: dict[str, bytes] = {}
    door = Inference(settings)
    ctx = memory_context(door, path, MediaType.VIDEO, metadata=HEVC_META, params=PlayableCopy().params(settings),
                         blobs=blobs)  # fmt: skip
    return PlayableCopy().run(ctx).artifacts, blobs


def test_a_copy_that_would_outrun_the_jobs_time_is_given_up_with_the_reason(tmp_path: Path) -> None:
    path = mediagen.make_video(tmp_path / "phone.mp4", 1.0, codec="hevc")
    hurried = Settings(home=tmp_path / "home", job_timeout_s=0.001)
    (given_up,), blobs = _run(hurried, path)
    assert given_up.blob_sha256 is None and blobs == {}
    assert given_up.data["reason"] == "hevc video"
    assert given_up.data["skipped"].startswith("the copy took over 0 s")
    (made,), blobs = _run(Settings(home=tmp_path / "home"), path)  # the default time: made
    assert made.blob_sha256 in blobs and "skipped" not in made.data


def test_settings_can_turn_copies_off(tmp_path: Path) -> None:
    path = mediagen.make_video(tmp_path / "phone.mp4", 0.5, codec="hevc")
    artifacts, blobs = _run(Settings(home=tmp_path / "home", playable_copies=False), path)
    assert artifacts == [] and blobs == {}
