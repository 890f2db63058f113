"""Faces grouped into people: how well the incremental rule of ``pipeline/people.py`` groups the faces
there are here, in several arrival orders.

Faces: the astronaut's 18 variants, the cameraman twice, and scikit-image's LFW subset (100 small
faces of other people, upscaled; YuNet finds 90), from ``tests/support/facegen.py``. Each face is
detected, aligned and embedded through the inference door, then grouped in memory by the same rule
as in the database (join the nearest centroid at ``PERSON_MIN_SIMILARITY`` or more, else start a
person). LFW has no identity labels in scikit-image, so each LFW face counts as its own person: a
pair of LFW faces grouped together counts as an error even where it is the same man (two of them are).

Printed: pairwise precision and recall of "same person" for the astronaut's and the cameraman's
faces, the same over all faces, how many people were made, and the similarity gap the threshold
sits in.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/people.py [--orders 5]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.config import load_settings
from mediasift.inference.door import Inference
from mediasift.pipeline.people import PERSON_MIN_SIMILARITY

from support import facegen


def group(vectors: np.ndarray, order: list[int], threshold: float) -> list[int]:
    """Person index of each face when faces arrive in ``order``."""
    sums: list[np.ndarray] = []
    person = [-1] * len(vectors)
    for i in order:
        if sums:
            centroids = np.stack([s / np.linalg.norm(s) for s in sums])
            similarity = centroids @ vectors[i]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                sums[best] = sums[best] + vectors[i]
                person[i] = best
                continue
        sums.append(vectors[i].copy())
        person[i] = len(sums) - 1
    return person


def pair_scores(truth: list[str], found: list[int], members: list[int]) -> tuple[float, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5)
    args = parser.parse_args()
    door = Inference(load_settings())
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
    print(f"faces: {len(truth)} ({len(astro)} astronaut, {len(cam)} cameraman, {lfw} LFW)")
    print(f"astronaut to astronaut, lowest: {sim[np.ix_(astro, astro)].min():.3f}")
    print(f"astronaut to anyone else, highest: {sim[np.ix_(astro, others)].max():.3f}")
    print(f"threshold: {PERSON_MIN_SIMILARITY}")
    rng = random.Random(0)
    for run in range(args.orders):
        order = list(range(len(truth)))
        if run:
            rng.shuffle(order)
        found = group(v, order, PERSON_MIN_SIMILARITY)
        p_a, r_a = pair_scores(truth, found, astro)
        p_c, r_c = pair_scores(truth, found, cam)
        p_all, r_all = pair_scores(truth, found, list(range(len(truth))))
        print(
            f"order {run}: {len(set(found))} people; astronaut P {p_a:.3f} R {r_a:.3f}; cameraman P {p_c:.3f} "
            f"R {r_c:.3f}; all faces P {p_all:.3f} R {r_all:.3f}"
        )


if __name__ == "__main__":
    main()
