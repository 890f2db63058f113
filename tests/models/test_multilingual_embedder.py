"""multilingual-e5 with the real engine: texts that mean the same in two languages land close, and
calls from many threads at once share a bounded pool of engine handles and get what one call alone
gets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from mediasift.config import Settings, available_cores
from mediasift.models.multilingual_embedder import MultilingualEmbedder, load

QUERIES = [f"where the ferry to island {n} leaves in the morning" for n in range(12)]


@pytest.fixture(scope="module")
def pooled() -> MultilingualEmbedder:
    return MultilingualEmbedder(threads=1, engines=2).load()


def test_a_german_text_is_near_the_english_query_that_means_it(pooled: MultilingualEmbedder) -> None:
    query = pooled.embed(["honey bees collect nectar"], query=True)[0]
    german, other = pooled.embed(["Honigbienen sammeln Nektar von Blüten", "Der Zug nach Berlin hat Verspätung"])
    assert float(query @ german) > float(query @ other) + 0.05
    assert np.linalg.norm(german) == pytest.approx(1.0, abs=1e-3)


def test_concurrent_calls_share_at_most_the_pool_and_match_one_call_alone(pooled: MultilingualEmbedder) -> None:
    alone = np.stack([pooled.embed([q], query=True)[0] for q in QUERIES])
    with ThreadPoolExecutor(max_workers=8) as clients:
        together = np.stack(list(clients.map(lambda q: pooled.embed([q], query=True)[0], QUERIES)))
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert pooled._made == 2  # eight callers, two handles: the rest waited for one


def test_the_pool_is_sized_to_run_every_core(tmp_path: Path) -> None:
    one_thread = load(Settings(home=tmp_path, model_threads=1))
    assert (one_thread._most, one_thread._threads) == (available_cores(), 1)
    wide = load(Settings(home=tmp_path, model_threads=64))
    assert (wide._most, wide._threads) == (1, 64)
