"""Faces grouped into people: how well the rule of ``pipeline/people.py`` groups the faces there are
here, in many arrival orders, on the set its threshold was chosen on and on real photos held apart.

Tuning set: the astronaut's 18 variants, the cameraman twice, and scikit-image's LFW subset (100
small faces of other people, upscaled; YuNet finds 90), from ``tests/support/facegen.py``. LFW has no
identity labels in scikit-image, so each LFW face counts as its own person (two of them are the same
man).

Held apart (downloaded once from the package registries into ``--cache``): the test photos of the
``face_recognition`` 1.3.0 source package (one man in three press photos taken on different days,
two of them also cropped to part of his face; a second man in one photo) and the six group photos of
``@vladmandic/face-api`` 1.7.15's demo (three to five women each). Faces in one group photo are
different people for certain; faces of two group photos are not labelled, and are counted apart.

Each face is detected, aligned and embedded through the inference door, then grouped in memory by the
rule the database follows: each face of a picture joins the nearest centroid at
``PERSON_MIN_SIMILARITY`` or more, else starts a person; then each person that took a face is joined
with any other whose centroid is within the line (``--no-join``: the rule without that step).

    HF_HUB_OFFLINE=1 .venv/bin/python eval/people.py [--orders 200] [--no-join]
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.config import load_settings
from mediasift.inference.door import Inference
from mediasift.pipeline.people import PERSON_MIN_SIMILARITY

from support import facegen

PRESS_PHOTOS = {  # face_recognition 1.3.0's tests/test_images: file -> who
    "obama.jpg": "man-1", "obama2.jpg": "man-1", "obama3.jpg": "man-1", "obama_partial_face.jpg": "man-1",
    "obama_partial_face2.jpg": "man-1", "biden.jpg": "man-2",
}  # fmt: skip
GROUP_PHOTOS = [f"sample{i}.jpg" for i in range(1, 7)]


def held_apart_photos(cache: Path) -> list[tuple[str, str | None, np.ndarray]]:
    """(name, who or None for a group photo, RGB pixels), fetched with pip and npm on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / "face_recognition-1.3.0.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "face_recognition==1.3.0", "-d", str(cache)], check=True)  # fmt: skip
    demo = cache / "vladmandic-face-api-1.7.15.tgz"
    if not demo.exists():
        subprocess.run(["npm", "pack", "@vladmandic/face-api@1.7.15", "--silent"], cwd=cache, check=True)
    photos: list[tuple[str, str | None, np.ndarray]] = []
    with tarfile.open(sdist) as tar:
        for file, who in PRESS_PHOTOS.items():
            photos.append((file, who, _pixels(tar, f"face_recognition-1.3.0/tests/test_images/{file}")))
    with tarfile.open(demo) as tar:
        photos += [(file, None, _pixels(tar, f"package/demo/{file}")) for file in GROUP_PHOTOS]
    return photos


def _pixels(tar: tarfile.TarFile, member: str) -> np.ndarray:
    stream = tar.extractfile(member)
    assert stream is not None, member
    return np.asarray(Image.open(io.BytesIO(stream.read())).convert("RGB"), dtype=np.uint8)


def group(vectors: np.ndarray, pictures: Sequence[Sequence[int]], threshold: float, *, join: bool = True) -> list[int]:
    """Person index of each face when the pictures (each a list of face indexes) arrive in this order."""
    sums: dict[int, np.ndarray] = {}
    person = [-1] * len(vectors)

    def nearest(vector: np.ndarray, leave_out: int | None = None) -> tuple[int, float] | None:
        ids = [k for k in sums if k != leave_out]
        if not ids:
            return None
        centroids = np.stack([sums[k] / np.linalg.norm(sums[k]) for k in ids])
        similarity = centroids @ vector
        best = int(np.argmax(similarity))
        return ids[best], float(similarity[best])

    for faces in pictures:
        placed = set()
        for i in faces:
            found = nearest(vectors[i])
            if found is not None and found[1] >= threshold:
                sums[found[0]] = sums[found[0]] + vectors[i]
                person[i] = found[0]
            else:
                person[i] = len(person) + i  # a fresh id
                sums[person[i]] = vectors[i].copy()
            placed.add(person[i])
        for start in sorted(placed) if join else []:
            current = start
            while current in sums and (other := nearest(sums[current] / np.linalg.norm(sums[current]), current)):
                if other[1] < threshold:
                    break
                kept, gone = min(current, other[0]), max(current, other[0])
                sums[kept] = sums[kept] + sums.pop(gone)
                person = [kept if p == gone else p for p in person]
                current = kept
    return person


def pair_scores(truth: Sequence[str], found: Sequence[int], members: Sequence[int]) -> tuple[float, float]:
    """Pairwise precision and recall of "same person" over pairs touching ``members``."""
    tp = fp = fn = 0
    chosen = set(members)
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            if i not in chosen and j not in chosen:
                continue
            same, grouped = truth[i] == truth[j], found[i] == found[j]
            tp += same and grouped
            fp += grouped and not same
            fn += same and not grouped
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def tuning_set(door: Inference, orders: int, join: bool) -> None:
    names, truth, vectors = [], [], []
    for picture in facegen.astronaut_variants() + facegen.cameraman() + facegen.lfw_faces():
        faces = [face for face in door.faces(picture.pixels, 0.8) if min(face.box[2:]) >= 32]
        if faces:
            names.append(picture.name)
            truth.append(picture.person)
            vectors.append(door.face_vectors(picture.pixels, faces[:1])[0])
    v = np.stack(vectors)
    sim = v @ v.T
    astro = [i for i, t in enumerate(truth) if t == "astronaut"]
    cam = [i for i, t in enumerate(truth) if t == "cameraman"]
    others = [i for i, t in enumerate(truth) if t != "astronaut"]
    lfw = len(truth) - len(astro) - len(cam)
    print(f"tuning set: {len(truth)} faces ({len(astro)} astronaut, {len(cam)} cameraman, {lfw} LFW)")
    print(f"  astronaut to astronaut, lowest: {sim[np.ix_(astro, astro)].min():.3f}")
    print(f"  astronaut to anyone else, highest: {sim[np.ix_(astro, others)].max():.3f}")
    rng = random.Random(0)
    worst = (1.0, 1.0, 1.0, 1.0)
    people = []
    for run in range(orders):
        order = [[i] for i in range(len(truth))]
        if run:
            rng.shuffle(order)
        found = group(v, order, PERSON_MIN_SIMILARITY, join=join)
        scores = (*pair_scores(truth, found, astro), *pair_scores(truth, found, cam))
        worst = tuple(min(a, b) for a, b in zip(worst, scores, strict=True))  # type: ignore[assignment]
        people.append(len(set(found)))
    print(
        f"  {orders} orders: {min(people)}-{max(people)} people; lowest astronaut P {worst[0]:.3f} R {worst[1]:.3f}, "
        f"cameraman P {worst[2]:.3f} R {worst[3]:.3f}"
    )


def held_apart(door: Inference, cache: Path, orders: int, join: bool) -> None:
    truth: list[str] = []
    vectors: list[np.ndarray] = []
    pictures: list[list[int]] = []
    for name, who, pixels in held_apart_photos(cache):
        faces = [face for face in door.faces(pixels, 0.8) if min(face.box[2:]) >= 32]
        if who is not None:
            faces = faces[:1]
        indexes = []
        for k, vector in enumerate(door.face_vectors(pixels, faces)):
            indexes.append(len(truth))
            truth.append(who or f"{name}#{k}")
            vectors.append(vector)
        pictures.append(indexes)
    v = np.stack(vectors)
    sim = v @ v.T
    man = [i for i, t in enumerate(truth) if t == "man-1"]
    groups = [i for i, t in enumerate(truth) if t.startswith("sample")]
    photo = {i: truth[i].split("#")[0] for i in groups}
    within = [sim[a, b] for a in groups for b in groups if a < b and photo[a] == photo[b]]
    across = [sim[a, b] for a in groups for b in groups if a < b and photo[a] != photo[b]]
    print(f"held apart: {len(truth)} faces ({len(man)} of man 1, 1 of man 2, {len(groups)} in 6 group photos)")
    print(f"  man 1 to man 1, lowest: {sim[np.ix_(man, man)].min():.3f}")
    print(f"  man 1 to anyone else, highest: {np.delete(sim[man], man, axis=1).max():.3f}")
    print(f"  two women of one group photo, highest: {max(within):.3f}; of two photos (unlabelled): {max(across):.3f}")
    rng = random.Random(0)
    split = mixed_within = mixed_across = mixed_man = 0
    recall = []
    for run in range(orders):
        order = list(pictures)
        if run:
            rng.shuffle(order)
        found = group(v, order, PERSON_MIN_SIMILARITY, join=join)
        split += len({found[i] for i in man}) > 1
        recall.append(pair_scores(truth, found, man)[1])
        for a in groups:
            for b in groups:
                if a < b and found[a] == found[b]:
                    if photo[a] == photo[b]:
                        mixed_within += 1
                    else:
                        mixed_across += 1
        mixed_man += sum(found[a] == found[b] for a in man for b in range(len(truth)) if b not in man)
    print(
        f"  {orders} orders: man 1 in more than one person in {split} ({100 * split / orders:.0f}%), pairwise recall "
        f"mean {np.mean(recall):.3f} lowest {min(recall):.3f}; man 1 with anyone else {mixed_man} times, two "
        f"women of one photo together {mixed_within} times, of two photos (unlabelled) {mixed_across} times"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--no-join", action="store_true", help="the rule without joining people whose means meet")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mediasift-eval-people"))
    args = parser.parse_args()
    door = Inference(load_settings())
    print(f"threshold: {PERSON_MIN_SIMILARITY}, joining people whose means meet: {not args.no_join}")
    tuning_set(door, args.orders, not args.no_join)
    held_apart(door, args.cache, args.orders, not args.no_join)


if __name__ == "__main__":
    main()
