"""The pipeline graph is checked when it is built: mis-wiring fails at start-up, not in a job."""

from __future__ import annotations

import pytest

from mediasift.mediatype import MediaType
from mediasift.operators import default_pipeline
from mediasift.pipeline.graph import Pipeline, PipelineError
from mediasift.pipeline.operator import TEXT, Operator, OperatorContext
from mediasift.records import OperatorResult

from support.plugins import PluginOcr


def _op(
    name: str,
    media: set[MediaType],
    deps: tuple[str, ...] = (),
    *,
    makes: frozenset[str] = frozenset(),
    reads: frozenset[str] = frozenset(),
) -> Operator:
    class _Op(Operator):
        version = "1"
        media_types = frozenset(media)
        produces = makes
        consumes = reads

        def requires(self, media_type: MediaType) -> tuple[str, ...]:
            return deps

        def run(self, ctx: OperatorContext) -> OperatorResult:
            return OperatorResult()

    _Op.name = name
    return _Op()


def test_default_pipeline_orders_every_operator_after_its_dependencies() -> None:
    pipeline = default_pipeline()
    for media_type in MediaType:
        names = [op.name for op in pipeline.for_media(media_type)]
        assert names, media_type
        assert names[-1] == "embed_text"
        for op in pipeline.for_media(media_type):
            for dep in pipeline.dependencies(op, media_type):
                assert names.index(dep) < names.index(op.name)
    video = [op.name for op in pipeline.for_media(MediaType.VIDEO)]
    assert video[0] == "keyframes" and "transcribe" in video and "ocr" in video


def test_a_videos_sound_runs_beside_its_pictures_not_after_them() -> None:
    """Transcription and audio events read nothing of the picture side: they are queued with the
    keyframes operator, ahead of every image operator (which waits for keyframes), so a worker with two
    jobs at once runs the speech while the other job runs shots, keyframes and the pictures."""
    pipeline = default_pipeline()
    video = pipeline.for_media(MediaType.VIDEO)
    waiting = {op.name for op in video if pipeline.dependencies(op, MediaType.VIDEO)}
    roots = [op.name for op in video if op.name not in waiting]
    assert roots[:2] == ["keyframes", "transcribe"] and "audio_events" in roots
    assert {"labels", "objects", "faces", "ocr", "phash", "thumbnail"} <= waiting


def test_embed_text_reads_every_operator_that_produces_text() -> None:
    pipeline = default_pipeline()
    for media_type in MediaType:
        embed = pipeline.operators["embed_text"]
        producers = {op.name for op in pipeline.for_media(media_type) if TEXT in op.produces}
        assert producers, media_type
        assert set(pipeline.dependencies(embed, media_type)) == producers
    image = {op.name for op in pipeline.for_media(MediaType.IMAGE) if TEXT in op.produces}
    assert {"ocr", "labels", "objects", "faces"} <= image


def test_a_plugin_that_produces_text_is_embedded_after_it_runs() -> None:
    """Nobody lists the plugin as embed_text's dependency: it says it produces text, and the graph
    orders the consumer after it (and only for the media types the plugin handles)."""
    writer = _op("writer", {MediaType.TEXT}, makes=frozenset({TEXT}))
    silent = _op("silent", {MediaType.TEXT})
    reader = _op("reader", {MediaType.TEXT, MediaType.IMAGE}, reads=frozenset({TEXT}))
    pipeline = Pipeline([reader, silent, writer])
    assert pipeline.dependencies(reader, MediaType.TEXT) == ("writer",)
    assert pipeline.dependencies(reader, MediaType.IMAGE) == ()
    order = [op.name for op in pipeline.for_media(MediaType.TEXT)]
    assert order.index("writer") < order.index("reader")
    shipped = default_pipeline("support.plugins:PluginExtra")
    assert "plugin_extra" not in shipped.dependencies(shipped.operators["embed_text"], MediaType.TEXT)


def test_missing_dependency_is_refused() -> None:
    with pytest.raises(PipelineError, match="requires 'nowhere'"):
        Pipeline([_op("a", {MediaType.TEXT}, ("nowhere",))])


def test_dependency_that_skips_the_media_type_is_refused() -> None:
    with pytest.raises(PipelineError, match="handles no image"):
        Pipeline([_op("a", {MediaType.IMAGE}, ("b",)), _op("b", {MediaType.TEXT})])


def test_cycle_is_refused() -> None:
    with pytest.raises(PipelineError, match="cycle"):
        Pipeline([_op("a", {MediaType.TEXT}, ("b",)), _op("b", {MediaType.TEXT}, ("a",))])


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(PipelineError, match="share a name"):
        Pipeline([_op("a", {MediaType.TEXT}), _op("a", {MediaType.AUDIO})])


def test_plugins_add_operators_and_replace_shipped_ones_by_name() -> None:
    pipeline = default_pipeline("support.plugins:PluginOcr, support.plugins:PluginExtra")
    assert isinstance(pipeline.operators["ocr"], PluginOcr)
    assert "plugin_extra" in [op.name for op in pipeline.for_media(MediaType.TEXT)]
    with pytest.raises(PipelineError, match="cannot load"):
        default_pipeline("no_such_module:Thing")
    with pytest.raises(PipelineError, match=r"package\.module:ClassName"):
        default_pipeline("just_a_name")
