"""Operator plugins the tests load by name (``MEDIASIFT_OPERATOR_PLUGINS=support.plugins:Name``), as a
user's own package would be."""

from __future__ import annotations

from mediasift.mediatype import MediaType
from mediasift.operators.labels import Labels
from mediasift.pipeline.operator import Operator, OperatorContext
from mediasift.records import OperatorResult


class PluginOcr(Operator):
    """Replaces the shipped ``ocr`` by its name."""

    name = "ocr"
    version = "9"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})

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
    """Fails as a model server that is down would (a transient error)."""

    name = "ocr"
    version = "1"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        raise ConnectionError("the OCR model server is not answering")
