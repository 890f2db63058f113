"""Operator plugins the tests load by name (``MEDIASIFT_OPERATOR_PLUGINS=support.plugins:Name``), as a
user's own package would be."""

from __future__ import annotations

import threading
import time

from mediasift.errors import PermanentError
from mediasift.mediatype import MediaType
from mediasift.operators.labels import Labels
from mediasift.pipeline.operator import TEXT, Operator, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut


class PluginOcr(Operator):
    """Replaces the shipped ``ocr`` by its name; like it, it produces text."""

    name = "ocr"
    version = "9"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    produces = frozenset({TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        return OperatorResult()


class PluginExtra(Operator):
    """A new operator beside the shipped ones."""

    name = "plugin_extra"
    version = "1"
    media_types = frozenset({MediaType.TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        return OperatorResult()


class LabelsV2(Labels):
    """The shipped labels operator at a new version: its results become stale."""

    version = "2"


class FlakyOcr(Operator):
    """Fails as a model server that is down would (a transient error). An OCR operator: what it would
    produce is text, so the text embedding waits for it."""

    name = "ocr"
    version = "1"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    produces = frozenset({TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        raise ConnectionError("the OCR model server is not answering")


class CatalogueEntry(Operator):
    """A plugin that produces text (a catalogue line for every text document), which the shipped
    text-embedding step must embed like any shipped operator's."""

    name = "catalogue"
    version = "1"
    media_types = frozenset({MediaType.TEXT})
    produces = frozenset({TEXT})
    entry = "catalogue entry: maritime signal lamps and foghorns"

    def run(self, ctx: OperatorContext) -> OperatorResult:
        return OperatorResult(segments=[SegmentOut(kind="catalogue", key="entry", text=self.entry)])


class CatalogueEntryV2(CatalogueEntry):
    """The same plugin at its next version, which writes another entry."""

    version = "2"
    entry = "catalogue entry: alpine mountain huts and glacier maps"


class WordCount(Operator):
    """A plugin that produces no text: nothing waits for it."""

    name = "word_count"
    version = "1"
    media_types = frozenset({MediaType.TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        words = len(ctx.media_path.read_bytes().split())
        return OperatorResult(artifacts=[ArtifactOut(kind="word_count", data={"words": words})])


class Pause(Operator):
    """Takes a second and a half over each text document: long enough for whoever watches the work to
    see it in progress."""

    name = "pause"
    version = "1"
    media_types = frozenset({MediaType.TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        time.sleep(1.5)
        return OperatorResult()


class Hold(Operator):
    """Holds every asset, of any media type, for two seconds and produces nothing: one job per asset
    that keeps a worker's slot busy, so that work queued at once has to spread over the workers."""

    name = "hold"
    version = "1"
    media_types = frozenset(MediaType)
    seconds = 2.0

    def run(self, ctx: OperatorContext) -> OperatorResult:
        time.sleep(self.seconds)
        return OperatorResult()


class Held(Operator):
    """Signals ``started`` and waits for ``release`` (the test's to set), then has a model result
    cached and stores a derived blob and a segment, or, with ``reads_media``, first reads the asset's
    file: a job that is in flight while its asset is deleted, and then writes results or fails on the
    missing bytes."""

    name = "held"
    version = "1"
    media_types = frozenset({MediaType.TEXT})
    started = threading.Event()
    release = threading.Event()
    reads_media = False
    stores_first = False

    def derived(self, ctx: OperatorContext) -> bytes:
        return b"held: derived from " + ctx.asset.id.bytes

    def run(self, ctx: OperatorContext) -> OperatorResult:
        stored = ctx.put_blob(self.derived(ctx), "application/octet-stream") if self.stores_first else None
        self.started.set()
        self.release.wait(60)
        if self.reads_media:
            ctx.media_path.read_bytes()
        ctx.inference.embed_texts([f"held harbour words of {ctx.asset.id}"])  # a model result cached now
        sha256 = stored or ctx.put_blob(self.derived(ctx), "application/octet-stream")
        return OperatorResult(
            segments=[SegmentOut(kind="held", key="held", text="held harbour words")],
            artifacts=[ArtifactOut(kind="held", blob_sha256=sha256)],
        )


class HeldThenReads(Held):
    """:class:`Held`, reading the asset's file once let go."""

    reads_media = True


class HeldStamp(Held):
    """:class:`Held` storing the same bytes for every asset, before it waits."""

    stores_first = True

    def derived(self, ctx: OperatorContext) -> bytes:
        return b"held: the same stamp for every asset"


class Broken(Operator):
    """Refuses every text document as corrupt (a permanent error): its jobs go straight to the
    dead-letter queue."""

    name = "broken"
    version = "1"
    media_types = frozenset({MediaType.TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        raise PermanentError("this document cannot be read")
