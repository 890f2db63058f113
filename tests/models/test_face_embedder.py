"""dlib's face model over YuNet's landmarks, on the faces there are here (``support/facegen.py``): the
astronaut's 18 variants group as one person at ``PERSON_MIN_SIMILARITY``, and no other face comes
that close to her; and the network rebuilt as ONNX computes what dlib's own runtime computes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mediasift.models import dlib_resnet_graph
from mediasift.models.face_detector import FaceDetector
from mediasift.models.face_embedder import CHIP, TEMPLATE, FaceEmbedder, align, weight_files
from mediasift.pipeline.people import PERSON_MIN_SIMILARITY

from support import facegen, gil

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embed() -> object:
    detector, embedder = FaceDetector().load(), FaceEmbedder().load()

    def vectors(pictures: list[facegen.Picture]) -> dict[str, np.ndarray]:
        found = {}
        for picture in pictures:
            faces = [face for face in detector.detect(picture.pixels, 0.8)]
            if faces:
                found[picture.name] = embedder.embed([align(picture.pixels, faces[0].landmarks)])[0]
        return found

    return vectors


def test_a_face_is_turned_upright_and_sized_onto_the_template() -> None:
    """Five dots where a face's landmarks are (the template turned 20 degrees, doubled and moved) land
    on the template's points in the chip."""
    angle = np.radians(20)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (TEMPLATE - 75) @ turn.T * 2 + [210, 190]
    canvas = np.zeros((400, 420, 3), dtype=np.uint8)
    for x, y in landmarks:
        cv2.circle(canvas, (round(x), round(y)), 4, (255, 255, 255), -1)
    chip = align(canvas, landmarks.tolist())
    assert chip.shape == (CHIP, CHIP, 3) and chip.dtype == np.uint8
    count, _, _, centres = cv2.connectedComponentsWithStats((chip[:, :, 0] > 127).astype(np.uint8))
    found = sorted(centres[1:].tolist())
    assert count == 6
    assert np.abs(np.asarray(found) - np.asarray(sorted(TEMPLATE.tolist()))).max() < 1.0


def test_every_variant_of_the_astronaut_is_her_and_no_one_else_is(embed) -> None:  # type: ignore[no-untyped-def]
    astronaut = embed(facegen.astronaut_variants())
    others = embed(facegen.cameraman() + facegen.lfw_faces(40))
    assert len(astronaut) == 18 and len(others) >= 35
    vectors = np.stack(list(astronaut.values()))
    centroid = vectors.sum(axis=0)
    centroid /= np.linalg.norm(centroid)
    pairwise = vectors @ vectors.T
    assert pairwise.min() >= PERSON_MIN_SIMILARITY + 0.01, "every pair of her pictures is inside the line"
    against = np.stack(list(others.values())) @ vectors.T
    assert against.max() <= PERSON_MIN_SIMILARITY - 0.02, "no other face comes within it"
    assert (np.stack(list(others.values())) @ centroid).max() < PERSON_MIN_SIMILARITY


def test_no_faces_no_vectors() -> None:
    assert FaceEmbedder().embed([]).shape == (0, 128)


def test_the_onnx_network_computes_what_dlib_computes() -> None:
    """dlib's own runtime (a test dependency only) and the rebuilt network give the same vectors for
    real faces and for noise, alone and in a batch, to float rounding; a vector made from another
    chip is far off, so the comparison can tell them apart."""
    import dlib

    reference = dlib.face_recognition_model_v1(str(weight_files()[0]))
    detector = FaceDetector().load()
    chips = []
    for picture in facegen.astronaut_variants()[:3] + facegen.cameraman():
        faces = detector.detect(picture.pixels, 0.8)
        chips.append(align(picture.pixels, faces[0].landmarks))
    rng = np.random.default_rng(7)
    chips += [rng.integers(0, 256, (CHIP, CHIP, 3), dtype=np.uint8) for _ in range(2)]
    expected = np.asarray([np.asarray(v) for v in reference.compute_face_descriptor(chips)], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    embedder = FaceEmbedder().load()
    batched = embedder.embed(chips)
    alone = np.stack([embedder.embed([chip])[0] for chip in chips])
    assert np.abs(batched - expected).max() < 1e-5
    assert np.abs(alone - expected).max() < 1e-5
    assert np.abs(np.roll(expected, 1, axis=0) - batched).max() > 0.1


def test_a_damaged_weights_file_is_refused_with_a_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    damaged = tmp_path / "model.dat"
    damaged.write_bytes(weight_files()[0].read_bytes()[:5_000_000])
    with pytest.raises(dlib_resnet_graph.ModelFormatError, match="ends inside a layer"):
        dlib_resnet_graph.read_layers(damaged)


def test_other_threads_run_while_it_embeds() -> None:
    """A thread counting in Python beside the embedder is stalled for a small part of its time; beside
    dlib's own runtime, which holds the GIL through each call, for nearly all of it."""
    import dlib

    rng = np.random.default_rng(3)
    chips = [rng.integers(0, 256, (CHIP, CHIP, 3), dtype=np.uint8) for _ in range(8)]
    embedder = FaceEmbedder().load()
    reference = dlib.face_recognition_model_v1(str(weight_files()[0]))
    embedder.embed(chips[:1]), reference.compute_face_descriptor(chips[0])  # warm both
    ours = gil.stalled(lambda: [embedder.embed([chip]) for chip in chips * 4])
    theirs = gil.stalled(lambda: [reference.compute_face_descriptor(chip) for chip in chips])
    assert ours < 0.3, f"the counting thread was stalled {ours:.0%} of the embedder's time"
    assert theirs > 0.7, f"beside dlib it was stalled only {theirs:.0%}: the measure cannot tell"
