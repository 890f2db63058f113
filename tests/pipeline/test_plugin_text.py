"""A plugin operator that produces text has its text embedded and searchable like a shipped operator's,
and embedded again when the plugin's version changes: the graph reads what operators declare, so
nobody lists the plugin anywhere."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from mediasift.config import Settings
from mediasift.jobs.model import Lane
from mediasift.mediatype import MediaType
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift
from mediasift.service_models import OperatorRun

from support import mediagen
from support.plugins import CatalogueEntry, CatalogueEntryV2

pytestmark = pytest.mark.slow

V1, V2, COUNTER = "support.plugins:CatalogueEntry", "support.plugins:CatalogueEntryV2", "support.plugins:WordCount"


def _with(settings: Settings, plugins: str) -> Mediasift:
    return Mediasift(settings.model_copy(update={"operator_plugins": plugins}))


def _best(system: Mediasift, query: str, asset_id: UUID) -> tuple[str | None, float]:
    """The kind of ``asset_id``'s segment nearest ``query`` by meaning alone, and its cosine; (None,
    0.0) when search by meaning does not show the asset (no text of it related to ``query``)."""
    hits = [hit for hit in system.search(query, mode=SearchMode.SEMANTIC, limit=10) if hit.asset_id == asset_id]
    return (hits[0].kind, hits[0].score) if hits else (None, 0.0)


def _keyword_kinds(system: Mediasift, query: str) -> set[str]:
    return {hit.kind for hit in system.search(query, mode=SearchMode.KEYWORD, limit=10)}


def _run(system: Mediasift, asset_id: UUID, operator: str) -> OperatorRun:
    return system.describe(asset_id).operators[operator]


def test_a_plugin_that_produces_text_is_read_by_the_embedding_step(settings: Settings) -> None:
    system = _with(settings, f"{V1},{COUNTER}")
    embed = system.pipeline.operators["embed_text"]
    reads = system.pipeline.dependencies(embed, MediaType.TEXT)
    assert "catalogue" in reads and "text_chunks" in reads
    assert "word_count" not in reads  # it produces no text: nothing waits for it
    order = [op.name for op in system.pipeline.for_media(MediaType.TEXT)]
    assert order.index("catalogue") < order.index("embed_text")
    system.close()


def test_plugin_text_is_embedded_searchable_and_embedded_again_after_a_new_version(
    settings: Settings, media_dir: Path
) -> None:
    document = mediagen.make_text_file(media_dir / "kettle.txt", "Copper kettles whistle on the stove at dawn.")
    first = _with(settings, V1)
    (accepted,) = first.ingest([document], wait=True).accepted
    asset_id = accepted.asset_id
    assert first.asset_states([asset_id])[asset_id].status == "done"
    # The plugin's line is found by meaning: it was embedded, although only the plugin wrote it.
    kind, similarity = _best(first, "lighthouse lamps and fog horns at sea", asset_id)
    assert kind == "catalogue" and similarity > 0.5
    assert _best(first, "mountain huts on the glacier", asset_id)[1] < 0.35
    assert first.status().embeddings[first.inference.text_ref.id].count == 2  # the chunk and the entry
    embedded_first = _run(first, asset_id, "embed_text")
    first.close()

    second = _with(settings, V2)
    stale = second.stale()
    assert [op.name for op in stale[asset_id]] == ["catalogue"]  # embed_text follows when it is done
    plan = second.reprocess(lane=Lane.INTERACTIVE)
    assert plan.queued == {"catalogue": 1}
    second.wait_for(plan.assets)
    assert second.stale() == {}
    catalogue, embedded = _run(second, asset_id, "catalogue"), _run(second, asset_id, "embed_text")
    assert catalogue.operator_version == CatalogueEntryV2.version != CatalogueEntry.version
    assert embedded.started_at >= catalogue.finished_at > embedded_first.finished_at
    # Its new line is what the vectors now hold; the old one's text and vector are gone.
    kind, similarity = _best(second, "mountain huts on the glacier", asset_id)
    assert kind == "catalogue" and similarity > 0.5
    assert _best(second, "lighthouse lamps and fog horns at sea", asset_id)[1] < 0.35
    assert _keyword_kinds(second, "foghorns") == set() and _keyword_kinds(second, "glacier") == {"catalogue"}
    assert second.status().embeddings[second.inference.text_ref.id].count == 2
    second.close()
