"""The two text-embedding tiers on the job the cheap one is for: finding near-duplicate text.

1,000 distinct English texts (``tests/support/textgen.py``); 400 queries, each an altered copy of one of them:
case and punctuation changed, 20% of the words dropped, neighbouring words swapped, or the last third
cut off (100 of each). A query is right when its original is the nearest of the 1,000 (top-1).
Printed per tier: top-1 accuracy per alteration, and embedding time per text; and for a cascade that
pre-filters with wordllama (its 20 nearest) and lets MiniLM pick among them: the same accuracy, and
the share of MiniLM work it saves against MiniLM over the whole collection.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/text_tiers.py
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.config import load_settings
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference

from support.textgen import prose

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]
PREFILTER = 20


def recase(text: str, rng: random.Random) -> str:
    return re.sub(r"[.,;:()\"']", "", text).upper() if rng.random() < 0.5 else text.lower().replace(",", " ,")


def drop_words(text: str, rng: random.Random) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= 0.2]
    return " ".join(kept or words[:1])


def swap_neighbours(text: str, rng: random.Random) -> str:
    words = text.split()
    for i in range(0, len(words) - 1, 3):
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def cut_end(text: str, rng: random.Random) -> str:
    words = text.split()
    return " ".join(words[: max(2, round(len(words) * 2 / 3))])


ALTERATIONS = {"case/punctuation": recase, "20% words dropped": drop_words, "words swapped": swap_neighbours,
               "last third cut": cut_end}  # fmt: skip


def timed(embed: Embed, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], float]:
    start = time.perf_counter()
    vectors = embed(texts)
    return vectors, (time.perf_counter() - start) / len(texts)


def main() -> None:
    rng = random.Random(3)
    originals = prose(1000, seed=11)
    picks = rng.sample(range(len(originals)), 400)
    queries: list[tuple[str, str, int]] = []
    for n, index in enumerate(picks):
        name = list(ALTERATIONS)[n % len(ALTERATIONS)]
        queries.append((name, ALTERATIONS[name](originals[index], rng), index))
    texts = [q[1] for q in queries]
    door = Inference(load_settings())  # the runtimes themselves are measured, not the door's cache
    minilm, wordllama = door.handle(Role.MINILM).get(), door.handle(Role.WORDLLAMA).get()
    minilm.embed(originals[:32])
    wordllama.embed(originals[:32])
    results: dict[str, dict[str, float]] = {}
    nearest: dict[str, npt.NDArray[np.int64]] = {}
    scores: dict[str, npt.NDArray[np.float32]] = {}
    for tier, model in (("minilm", minilm), ("wordllama", wordllama)):
        docs, per_doc = timed(model.embed, originals)
        asked, _ = timed(model.embed, texts)
        scores[tier] = asked @ docs.T
        nearest[tier] = np.argsort(-scores[tier], axis=1)
        results[tier] = {"ms per text": 1000 * per_doc}
    # The cascade: wordllama's 20 nearest, MiniLM picks (its vectors of those 20 only).
    candidates = nearest["wordllama"][:, :PREFILTER]
    cascade_top = np.array([row[np.argmax(scores["minilm"][i, row])] for i, row in enumerate(candidates)])
    print(f"{len(originals)} texts, {len(queries)} altered copies as queries; top-1 = the original is the nearest")
    header = f"{'alteration':20} {'MiniLM int8':>12} {'wordllama':>10} {'cascade':>8}"
    print(header)
    for name in [*ALTERATIONS, "all"]:
        rows = [i for i, q in enumerate(queries) if name in ("all", q[0])]
        truth = np.array([queries[i][2] for i in rows])
        accuracy = {
            "minilm": float(np.mean(nearest["minilm"][rows, 0] == truth)),
            "wordllama": float(np.mean(nearest["wordllama"][rows, 0] == truth)),
            "cascade": float(np.mean(cascade_top[rows] == truth)),
        }
        print(f"{name:20} {accuracy['minilm']:12.3f} {accuracy['wordllama']:10.3f} {accuracy['cascade']:8.3f}")
    ms_mini, ms_word = results["minilm"]["ms per text"], results["wordllama"]["ms per text"]
    print(f"embedding time per text: MiniLM {ms_mini:.2f} ms, wordllama {ms_word:.3f} ms ({ms_mini / ms_word:.0f}x)")
    print(
        f"cascade: MiniLM embeds {PREFILTER} candidates per query instead of all {len(originals)} texts "
        f"({1 - PREFILTER / len(originals):.0%} less MiniLM work where the collection is not embedded yet)"
    )


if __name__ == "__main__":
    main()
