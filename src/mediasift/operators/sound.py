"""What audio operators share: they apply to audio, and to video that has a sound track."""

from __future__ import annotations

from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import AssetView, Operator


def has_sound(asset: AssetView) -> bool:
    if asset.media_type is MediaType.VIDEO:
        return bool(asset.metadata.get("has_audio"))
    return asset.media_type is MediaType.AUDIO


class AudioOperator(Operator):
    """An operator over an asset's sound: an audio file, or a video's audio track."""

    media_types = frozenset({MediaType.AUDIO, MediaType.VIDEO})

    def applies(self, asset: AssetView) -> bool:
        return has_sound(asset)
