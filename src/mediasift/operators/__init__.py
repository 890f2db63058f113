"""The operators mediasift ships: small, versioned, one concern each."""

from __future__ import annotations

from mediasift.pipeline.graph import Pipeline, load_operator
from mediasift.pipeline.operator import Operator


def default_operators() -> list[Operator]:
    from mediasift.operators.audio_events import AudioEvents
    from mediasift.operators.caption import Caption
    from mediasift.operators.clip import Clip
    from mediasift.operators.embed_text import EmbedText
    from mediasift.operators.faces import Faces
    from mediasift.operators.fingerprint import VideoFingerprint
    from mediasift.operators.keyframes import Keyframes
    from mediasift.operators.labels import Labels
    from mediasift.operators.objects import Objects
    from mediasift.operators.ocr import Ocr
    from mediasift.operators.phash import PerceptualHash
    from mediasift.operators.playable import PlayableCopy
    from mediasift.operators.shot_words import ShotWords
    from mediasift.operators.text_chunks import TextChunks
    from mediasift.operators.thumbnail import Thumbnail
    from mediasift.operators.transcribe import Transcribe

    # Longest first, after what they read: jobs that become ready together are queued in this order
    # and handed out in it, so with two jobs at once the long pole (OCR, then the detectors) starts
    # first and the short ones fill in around it and the transcription (a root, queued at once).
    return [
        Keyframes(),
        Ocr(),
        Objects(),
        Faces(),
        Labels(),
        VideoFingerprint(),
        Thumbnail(),
        PerceptualHash(),
        Caption(),
        Clip(),
        Transcribe(),
        AudioEvents(),
        PlayableCopy(),  # for the pages, not for search: queued after the analysis's roots
        ShotWords(),
        TextChunks(),
        EmbedText(),
    ]


def default_pipeline(plugins: str = "") -> Pipeline:
    """The shipped operators plus plugins (comma-separated ``package.module:ClassName`` specs); a
    plugin replaces the shipped operator of the same name."""
    extra = [load_operator(spec) for spec in plugins.split(",") if spec.strip()]
    replaced = {op.name for op in extra}
    return Pipeline([op for op in default_operators() if op.name not in replaced] + extra)
