"""A caption of each picture (the image itself, or each keyframe of a video) from a remote
vision-language model, stored as searchable text.

Off unless the settings name an endpoint and a chat model (``MEDIASIFT_REMOTE_BASE_URL`` and
``MEDIASIFT_REMOTE_CHAT_MODEL``): :meth:`Operator.applies` only sees the asset, so the switch is
:meth:`Operator.enabled`, which the job planner asks with its settings. While it is off the
operator is in the pipeline graph (so ``embed_text`` can name it as an input) but never gets a job.
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.prompts import get_template
from mediasift.inference.remote import CAPTION_PROMPT, CHAT_MODEL_ID
from mediasift.operators.images import ImageOperator, encode_jpeg, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ModelRef, OperatorResult, SegmentOut

CAPTION = get_template(CAPTION_PROMPT)
MAX_SIDE = 1024  # what vision models look at anyway; a larger picture costs more tokens, not detail


class Caption(ImageOperator):
    name = "caption"
    version = "1"
    produces = frozenset({TEXT})

    def model(self, settings: Settings) -> ModelRef:
        """The remote chat model, named by the prompt: which endpoint model answers is a parameter."""
        return ModelRef(CHAT_MODEL_ID, CAPTION.key)

    def enabled(self, settings: Settings) -> bool:
        return bool(settings.remote_base_url and settings.remote_chat_model)

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"model": settings.remote_chat_model, "prompt": CAPTION.key, "max_side": MAX_SIDE}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            answer = ctx.inference.caption(encode_jpeg(item.pixels, ctx.params["max_side"]))
            if not answer.text:
                continue
            result.segments.append(
                SegmentOut(
                    kind="caption",
                    key=item.key,
                    start=item.start,
                    end=item.end,
                    text=answer.text,
                    data={
                        "model": answer.model,
                        "prompt": answer.prompt,
                        "input_tokens": answer.input_tokens,
                        "output_tokens": answer.output_tokens,
                    },
                )
            )
        return result
