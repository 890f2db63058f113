"""Operators the chaos and flood tests plug into workers (MEDIASIFT_OPERATOR_PLUGINS)."""

from __future__ import annotations

from mediasift.errors import PermanentError
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import Operator, OperatorContext
from mediasift.records import OperatorResult

POISON = "POISON-PILL"


class PoisonCheck(Operator):
    """Refuses, permanently, any text that carries the poison marker: a stand-in for input that
    passes ingest but that analysis cannot handle."""

    name = "poison_check"
    version = "1"
    media_types = frozenset({MediaType.TEXT})

    def run(self, ctx: OperatorContext) -> OperatorResult:
        if POISON.encode() in ctx.media_path.read_bytes().replace(b"\x00", b""):
            raise PermanentError("this document is poisoned")
        return OperatorResult()
