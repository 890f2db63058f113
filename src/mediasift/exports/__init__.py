"""What mediasift knows about an asset, written in formats other tools read: subtitles (WebVTT, SRT)
from timed text. Pure formatting: cues in, text out; no storage, no I/O."""
