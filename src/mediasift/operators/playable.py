"""A copy web browsers play of a video or sound they cannot play as it is (see
:mod:`mediasift.media.playable`): the asset page and the search page's player play it instead.

Nothing is made for an original browsers play. The copy is given up (an artifact that says why, no
blob) when it would take longer than a job may run at its pace, and left out when the settings turn
copies off; then pages offer the original for download. An original that cannot be decoded fails
the job as every operator's does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mediasift.config import Settings
from mediasift.media.playable import BUDGET_SHARE, NoCopy, reason_to_copy, write_copy
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import Operator, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult


class PlayableCopy(Operator):
    name = "playable"
    version = "1"
    media_types = frozenset({MediaType.VIDEO, MediaType.AUDIO})

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"max_side": settings.playable_max_side, "enabled": settings.playable_copies}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        reason = reason_to_copy(ctx.asset.media_type, ctx.asset.metadata)
        if reason is None or not ctx.params["enabled"]:
            return OperatorResult()
        budget_s = BUDGET_SHARE * ctx.settings.job_timeout_s
        rotation = int(ctx.asset.metadata.get("rotation") or 0)
        with tempfile.TemporaryDirectory(prefix="mediasift-playable-") as scratch:
            target = Path(scratch) / "copy.mp4"
            try:
                copy = write_copy(
                    ctx.media_path, target, ctx.asset.media_type,
                    max_side=ctx.params["max_side"], rotation=rotation, budget_s=budget_s,
                )  # fmt: skip
            except NoCopy as exc:
                return OperatorResult(
                    artifacts=[ArtifactOut(kind="playable", data={"reason": reason, "skipped": str(exc)})]
                )
            sha = ctx.put_file(target, copy.mime)
        data = {
            "reason": reason,
            "mime": copy.mime,
            "width": copy.width,
            "height": copy.height,
            "seconds": copy.seconds,
        }
        return OperatorResult(artifacts=[ArtifactOut(kind="playable", data=data, blob_sha256=sha)])
