"""Across languages: texts in German, French and Spanish are embedded by the multilingual model as
well, and an English query finds them by meaning (MiniLM alone does not)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.service import Mediasift
from mediasift.service_models import SearchMode

pytestmark = pytest.mark.slow

TEXTS = {
    "bienen.txt": "Honigbienen sammeln im Frühling Nektar und bestäuben dabei die Blüten der Obstbäume.",
    "zug.txt": "Der Zug nach Berlin hat heute wegen einer Weichenstörung zwanzig Minuten Verspätung.",
    "perro.txt": "El perro corre por el parque detrás de una pelota roja mientras los niños juegan.",
    "budget.txt": "The quarterly budget review showed that spending on office supplies went up again.",
    # a report about more than bees: its multilingual-e5 cosine with "honey bees" (0.78) is under the
    # fixed floor (0.8) that the standing above the query's background (1.9, the floor 1.8) replaced
    "imkerei.txt": "Jahresbericht der Imkerei Sommerfeld in Kassel. Die Honigbienen haben in diesem Jahr rund "
    "450 Kilogramm Honig eingebracht. Zwei Völker gingen durch die Varroamilbe verloren, die übrigen "
    "überwinterten gut. Die Linden blühten spät, deshalb wurde erst im Juni geschleudert. Artikelnummer für "
    "Sommerhonig: SH-2024-08.",
}


QUERIES = {"honey bees": "bienen.txt", "the train is late": "zug.txt", "a dog playing with a ball": "perro.txt"}


def test_an_english_query_finds_a_text_in_another_language(settings: Settings, media_dir: Path) -> None:
    for name, text in TEXTS.items():
        (media_dir / name).write_text(text, encoding="utf-8")
    with closing(Mediasift(settings)) as system:
        system.ingest([media_dir], wait=True)
        for query, expected in [*QUERIES.items(), ("office spending", "budget.txt")]:
            results = system.answers(query, mode=SearchMode.SEMANTIC, limit=4).results
            best = results[0]
            assert best.source_path is not None and Path(best.source_path).name == expected, query
            scores = [r.score for r in results]
            assert scores == sorted(scores, reverse=True), f"{query}: shown in another order than their scores"
        bees = system.answers("honey bees", mode=SearchMode.SEMANTIC, limit=4).results
        assert [Path(r.source_path or "").name for r in bees[:2]] == ["bienen.txt", "imkerei.txt"]
        assert "multilingual" in bees[1].moments[0].matched, "found by the multilingual model, not MiniLM"
