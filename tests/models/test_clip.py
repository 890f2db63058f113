"""The pluggable CLIP-style model, checked with a tiny model the tests export themselves (no real
image-text weights exist here): loading and validating its folder, its vectors, zero-shot tags, and
text-to-image search through the whole system."""

from __future__ import annotations

import json
import re
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.catalog import UNUSABLE_CLIP, Catalog, NotConfigured, Role
from mediasift.inference.door import Inference
from mediasift.inference.registry import ModelHandle, ModelSpec, Runtime, pool
from mediasift.mediatype import MediaType
from mediasift.models.clip import ClipFolderError, ClipModel
from mediasift.operators.clip import Clip, configured_tags
from mediasift.pipeline.operator import AssetView
from mediasift.search.hits import Hit, fuse
from mediasift.service import Mediasift

from support.clipgen import DIM, RGB, export_tiny_clip, solid


@pytest.fixture
def clip_dir(tmp_path: Path) -> Path:
    return export_tiny_clip(tmp_path / "clip", tags=["red", "green", "blue", "yellow"])


def _settings(tmp_path: Path, clip_dir: Path | None, clip_tags: str = "") -> Settings:
    return Settings(home=tmp_path / "home", clip_dir=clip_dir, clip_tags=clip_tags)


def _spec(tmp_path: Path, clip_dir: Path) -> ModelSpec:
    return Catalog(_settings(tmp_path, clip_dir)).spec(Role.CLIP)


def _handle(tmp_path: Path, clip_dir: Path) -> ModelHandle:
    """The process's handle on the CLIP model these settings declare, as a door reaches it."""
    return Inference(_settings(tmp_path, clip_dir)).handle(Role.CLIP)


def _problems(tmp_path: Path, clip_dir: Path) -> dict[str, str]:
    return Inference(_settings(tmp_path, clip_dir)).problems()


def _load(tmp_path: Path, clip_dir: Path) -> ClipModel:
    return Inference(_settings(tmp_path, clip_dir)).clip()


# ------------------------------------------------------------------------------ the folder and model


def test_the_folder_is_declared_in_the_catalog_and_loads(tmp_path: Path, clip_dir: Path) -> None:
    spec = _spec(tmp_path, clip_dir)
    assert spec.id == f"clip/tiny-colour-clip/{DIM}" and spec.version.startswith("1+")
    assert (spec.runtime, spec.task, spec.optional) == (Runtime.ONNXRUNTIME, "image-text-embedding", True)
    assert [p.name for p in spec.files()] == ["config.json", "image.onnx", "text.onnx", "tokenizer.json"]
    settings = _settings(tmp_path, clip_dir)
    assert spec.ref in {declared.ref for declared in Catalog(settings).specs()}
    assert _problems(tmp_path, clip_dir) == {}
    assert Clip().model(settings) == spec.ref
    handle = _handle(tmp_path, clip_dir)
    assert _handle(tmp_path, clip_dir) is handle is pool.handle(spec), "unchanged files: the same handle"
    assert not handle.loaded
    model = handle.get()
    assert isinstance(model, ClipModel) and model.ref == spec.ref and model.dim == DIM


def test_no_folder_means_no_model(tmp_path: Path) -> None:
    settings = _settings(tmp_path, None)
    catalog = Catalog(settings)
    assert not catalog.configured(Role.CLIP) and Role.CLIP not in {s.id for s in catalog.specs()}
    assert not any(spec.id.startswith("clip") for spec in catalog.specs())
    with pytest.raises(NotConfigured):
        catalog.spec(Role.CLIP)
    assert Clip().model(settings) is None and Clip().params(settings) == {}


def test_pictures_and_texts_become_unit_vectors_in_one_space(tmp_path: Path, clip_dir: Path) -> None:
    model = _load(tmp_path, clip_dir)
    rgba = np.dstack([solid("green", (40, 90)), np.full((40, 90), 255, np.uint8)])
    grey = np.full((70, 30), 255, np.uint8)  # white, one channel
    pictures = [solid("red"), rgba, solid("blue", (300, 20)), grey]
    images = model.embed_images(pictures)
    texts = model.embed_texts(["a red picture", "GREEN", "some blue photo", "white"])
    for vectors in (images, texts):
        assert vectors.shape == (4, DIM) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = texts @ images.T
    assert list(similarity.argmax(axis=1)) == [0, 1, 2, 3], similarity
    assert similarity[0, 0] > 0.99 and similarity[0, 1] < 0.0
    assert model.embed_images([]).shape == (0, DIM)
    with pytest.raises(TypeError):
        model.embed_texts("a red picture")


def test_the_door_gives_the_models_vectors_and_counts_its_calls(tmp_path: Path, clip_dir: Path) -> None:
    door = Inference(_settings(tmp_path, clip_dir))
    ref = door.catalog.ref(Role.CLIP)
    model = door.clip()
    pictures = [solid("red"), solid("blue")]
    calls, items = stats.count(ref, "calls"), stats.count(ref, "items")
    vectors = door.clip_images(pictures)
    np.testing.assert_allclose(np.stack(vectors), model.embed_images(pictures), atol=1e-6)
    np.testing.assert_allclose(door.clip_query("a red picture"), model.embed_texts(["a red picture"])[0], atol=1e-6)
    assert stats.count(ref, "calls") == calls + 2 and stats.count(ref, "items") == items + 3
    tags = door.clip_tags(np.stack(vectors), ["red", "blue"])
    assert [ranked[0][0] for ranked in tags] == ["red", "blue"]


def test_zero_shot_picks_the_colour_of_each_picture(tmp_path: Path) -> None:
    folder = export_tiny_clip(tmp_path / "clip", logit_scale=1.0)
    model = _load(tmp_path, folder)
    tags = ["red", "green", "blue", "yellow"]
    results = model.zero_shot([solid(colour) for colour in ("blue", "yellow", "red", "green")], tags)
    assert [ranked[0][0] for ranked in results] == ["blue", "yellow", "red", "green"]
    for ranked in results:
        probabilities = [p for _, p in ranked]
        assert sorted(ranked, key=lambda pair: -pair[1]) == ranked and sorted(t for t, _ in ranked) == sorted(tags)
        assert sum(probabilities) == pytest.approx(1.0) and 0.3 < probabilities[0] < 0.99
    assert model.zero_shot([solid("red")], []) == [[]]


def test_the_tags_come_from_the_settings_else_from_tags_txt(tmp_path: Path, clip_dir: Path) -> None:
    assert configured_tags(_settings(tmp_path, clip_dir)) == ["red", "green", "blue", "yellow"]
    assert configured_tags(_settings(tmp_path, clip_dir, clip_tags=" cat, dog,,cat ")) == ["cat", "dog"]
    assert configured_tags(_settings(tmp_path, export_tiny_clip(tmp_path / "untagged"))) == []


def test_new_weights_are_a_new_version_and_drop_the_old_model(tmp_path: Path) -> None:
    folder = export_tiny_clip(tmp_path / "clip")
    first = _handle(tmp_path, folder)
    first.get()
    export_tiny_clip(folder, seed=8)  # same config.json, other weights
    second = _handle(tmp_path, folder)
    assert second is not first and pool.handle(_spec(tmp_path, folder)) is second
    assert second.spec.id == first.spec.id and second.spec.version != first.spec.version
    assert second.spec.version.startswith("1+")
    second.get()
    assert not first.loaded, "the superseded weights' model is still held in memory"


def _broken(folder: Path, problem: str) -> None:
    config = json.loads((folder / "config.json").read_text())
    if problem == "missing text tower":
        (folder / "text.onnx").unlink()
    elif problem == "config not json":
        (folder / "config.json").write_text("{name: tiny")
    elif problem == "bad config values":
        config.update(dim=0, mean=[0.5, 0.5], logit_scal=50)
        (folder / "config.json").write_text(json.dumps(config))
    elif problem == "corrupt image tower":
        (folder / "image.onnx").write_bytes(b"\x08not a protobuf at all")
    elif problem == "corrupt tokenizer":
        (folder / "tokenizer.json").write_text("{}")
    elif problem == "config dim differs from the towers":
        (folder / "config.json").write_text(json.dumps(config | {"dim": 16}))
    elif problem == "image size differs from the tower":
        (folder / "config.json").write_text(json.dumps(config | {"image_size": 224}))


BROKEN = {
    "missing text tower": r"lacks text\.onnx; see docs/inference\.md",
    "config not json": r"bad .*config\.json: file: Invalid JSON",
    "bad config values": r"dim: Input should be greater than 0; mean: must be 3 numbers, one per channel \(R, G, B\); "
    r"logit_scal: Extra inputs are not permitted",
    "corrupt image tower": r"image\.onnx is not a model ONNX Runtime can load",
    "corrupt tokenizer": r"tokenizer\.json is not a HuggingFace tokenizers file",
    "config dim differs from the towers": r"config\.json says dim 16 but the towers give 8-d vectors",
    "image size differs from the tower": r"image\.onnx takes 32 x 32 pictures but config\.json says image_size 224",
}


@pytest.mark.parametrize("problem", BROKEN)
def test_a_broken_folder_is_refused_with_the_reason(tmp_path: Path, problem: str) -> None:
    folder = export_tiny_clip(tmp_path / "clip")
    _broken(folder, problem)
    door = Inference(_settings(tmp_path, folder))
    with pytest.raises(ClipFolderError, match=BROKEN[problem]):
        door.clip()
    with pytest.raises(ClipFolderError, match=BROKEN[problem]):
        door.clip_images([solid("red")])
    if door.catalog.ref(Role.CLIP) == UNUSABLE_CLIP:  # the folder could not even be read: the check says why
        assert re.search(BROKEN[problem], door.problems()[UNUSABLE_CLIP.id])


def test_two_unreadable_folders_each_fail_with_their_own_reason(tmp_path: Path) -> None:
    """Both are declared as ``clip`` version ``unusable``; what loading one says is its own folder's
    problem, not the one another door's folder had."""
    missing = Inference(_settings(tmp_path, tmp_path / "nowhere"))
    with pytest.raises(ClipFolderError, match=r"nowhere \(MEDIASIFT_CLIP_DIR\) does not exist"):
        missing.clip()
    folder = export_tiny_clip(tmp_path / "clip")
    _broken(folder, "config not json")
    unreadable = Inference(_settings(tmp_path, folder))
    assert unreadable.catalog.ref(Role.CLIP) == UNUSABLE_CLIP
    assert re.search(BROKEN["config not json"], unreadable.problems()[UNUSABLE_CLIP.id])
    with pytest.raises(ClipFolderError, match=BROKEN["config not json"]):
        unreadable.clip()


def test_towers_of_different_sizes_are_refused(tmp_path: Path) -> None:
    door = Inference(_settings(tmp_path, export_tiny_clip(tmp_path / "clip", text_dim=6)))
    with pytest.raises(ClipFolderError, match="image tower gives 8-d vectors and the text tower 6-d"):
        door.clip()


def test_the_check_follows_the_folder_as_it_breaks_and_is_mended(tmp_path: Path) -> None:
    folder = export_tiny_clip(tmp_path / "clip")
    spec = _spec(tmp_path, folder)
    (folder / "image.onnx").unlink()  # now the folder cannot be declared as a model: it is "clip", unusable
    assert _spec(tmp_path, folder).ref == UNUSABLE_CLIP
    assert "lacks image.onnx" in _problems(tmp_path, folder)[UNUSABLE_CLIP.id]
    nowhere = _spec(tmp_path, tmp_path / "nowhere")
    assert nowhere.ref == UNUSABLE_CLIP
    assert "nowhere (MEDIASIFT_CLIP_DIR) does not exist" in _problems(tmp_path, tmp_path / "nowhere")["clip"]
    export_tiny_clip(tmp_path / "nowhere")
    assert _spec(tmp_path, tmp_path / "nowhere").id == spec.id
    assert _problems(tmp_path, tmp_path / "nowhere") == {}


# ------------------------------------------------------------------------------ fusion


_IDS = [uuid4() for _ in range(4)]


def _hit(asset: int, score: float, kind: str = "labels") -> Hit:
    """A hit as relevant as any other here: fusion by rank alone (:func:`fuse` weighs by relevance)."""
    return Hit(_IDS[asset], "image", f"/m/{asset}", None, None, score, kind, kind, relevance=1.0)


def test_fusion_favours_agreement_and_keeps_the_text_hit() -> None:
    text = [_hit(0, 0.9), _hit(1, 0.8), _hit(2, 0.7)]
    pictures = [_hit(2, 0.31, "clip"), _hit(3, 0.30, "clip"), _hit(1, 0.2, "clip")]
    fused = fuse([text, pictures])
    assert [h.source_path for h in fused] == ["/m/2", "/m/1", "/m/0", "/m/3"]
    assert fused[0].kind == "labels", "the text ranking's hit is kept"
    assert fused[0].score == round(1 / 63 + 1 / 61, 6) and fused[1].score == round(1 / 62 + 1 / 63, 6)
    assert fused[3].kind == "clip" and fused[3].score == round(1 / 62, 6)
    alone = [replace(h, score=round(1 / (61 + i), 6), relevance=0.0) for i, h in enumerate(text)]
    assert fuse([text]) == alone, "no ranking named in matched: no evidence of relevance kept"


# ------------------------------------------------------------------------------ through the system


def _pictures(media_dir: Path) -> dict[str, Path]:
    paths = {}
    for colour in ("red", "green", "blue"):
        paths[colour] = media_dir / f"{colour}.png"
        Image.new("RGB", (64, 48), RGB[colour]).save(paths[colour])
    return paths


def _image_asset() -> AssetView:
    return AssetView(uuid4(), MediaType.IMAGE, "image/png", "0" * 64, {})


def test_without_a_clip_folder_the_operator_gets_no_job(settings: Settings, tmp_path: Path) -> None:
    with closing(Mediasift(settings)) as system:
        without = {op.name for op in system.jobs.roots(_image_asset())}
    assert "clip" not in without and "labels" in without
    with closing(Mediasift(settings.model_copy(update={"clip_dir": export_tiny_clip(tmp_path / "clip")}))) as system:
        assert {op.name for op in system.jobs.roots(_image_asset())} == without | {"clip"}


@pytest.mark.slow
def test_text_to_image_search_finds_the_picture_by_its_clip_vector(
    settings: Settings, media_dir: Path, tmp_path: Path
) -> None:
    folder = export_tiny_clip(tmp_path / "clip")  # no tags.txt: vectors only
    clip_settings = settings.model_copy(update={"clip_dir": folder})
    paths = _pictures(media_dir)
    with closing(Mediasift(clip_settings)) as system, closing(Mediasift(settings)) as plain:
        report = system.ingest(list(paths.values()), wait=True)
        assert all(state.status == "done" for state in report.status.values()), report.status
        ref = system.inference.catalog.ref(Role.CLIP)
        assert ref == Catalog(clip_settings).ref(Role.CLIP) == Clip().model(clip_settings)
        assert stats.count(ref, "items") >= 3

        for colour, path in paths.items():
            hits = system.search(f"a {colour} picture")
            assert hits[0].source_path == str(path), (colour, hits)
        # Flat green and blue give the text models nothing to say (the red one is a "refrigerator"
        # to the object detector): without CLIP they cannot be found, so they were found above by
        # way of their CLIP vectors.
        for colour in ("green", "blue"):
            assert str(paths[colour]) not in {h.source_path for h in plain.search(f"a {colour} picture")}
        red_id = next(a.asset_id for a in report.accepted if a.path == str(paths["red"]))
        with system.db.connect() as conn:
            stored = conn.execute(
                "SELECT e.model, e.model_version, e.dim FROM embeddings e JOIN segments s ON s.id = e.segment_id"
                " WHERE e.asset_id = %s AND s.operator = 'clip'",
                (red_id,),
            ).fetchall()
        assert stored == [{"model": ref.id, "model_version": ref.version, "dim": DIM}]

    # Tags make a picture's zero-shot tags searchable text; only the clip operator (and the text
    # embedding after it) is stale.
    tagged_settings = clip_settings.model_copy(update={"clip_tags": "red, green, blue"})
    with closing(Mediasift(tagged_settings)) as tagged, closing(Mediasift(settings)) as plain:
        plan = tagged.reprocess()
        assert plan.queued == {"clip": 3}
        tagged.wait_for(plan.assets)
        artifacts = tagged.describe(red_id).artifacts
        tags = next(a for a in artifacts if a.kind == "clip_tags").data["tags"]
        assert tags[0]["tag"] == "red" and tags[0]["probability"] > 0.9
        for colour, path in paths.items():
            text_only = plain.search(colour)
            assert (text_only[0].source_path, text_only[0].kind, text_only[0].snippet) == (str(path), "clip", colour)
