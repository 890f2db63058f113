"""Speech to text with word timings, one segment per utterance.

Silero VAD picks the speech first, so silence and music never reach Whisper (faster, and no
"Thank you." hallucinated over a soundtrack); a file without speech costs one VAD pass. The router
(:mod:`mediasift.inference.speech`) tries tiny.en on each window of speech and keeps it there when
tiny.en is sure of it; otherwise the multilingual base model identifies the language and transcribes
the window. How the file was routed is stored in the transcript artifact (``route``). The file is read
twice as a stream, for VAD and then window by window for Whisper, so memory stays flat however long
it is.
"""

from __future__ import annotations

import math
from itertools import count, pairwise
from pathlib import Path

from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.media.audio import iter_audio
from mediasift.media.speech_windows import SAMPLE_RATE, gather_windows, plan_windows
from mediasift.models.transcripts import Transcript, TranscriptSegment, Word
from mediasift.models.whisper import MAX_WINDOW_S
from mediasift.operators.sound import AudioOperator
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

# Seconds of decoded audio per chunk while streaming the file.
CHUNK_S = 60.0
# Whisper's segments can hold two sentences with seconds of silence between them; search answers with
# a segment's time range, so a segment is split where its words pause this long (one said at 1.0-4.3 s
# came back as 0.9-11.3 s, with the sentence said at 9 s).
PAUSE_S = 1.5
# Whisper's word timings stretch the last word before a silence over it ("votes." 2.3-7.7 s, the next
# word at 8.2 s): a word is taken to be said within this long of its start when pauses are looked for.
MAX_WORD_S = 1.5


def transcribe_file(
    path: Path,
    inference: Inference,
    *,
    use_vad: bool = True,
    max_window_s: float = MAX_WINDOW_S,
) -> Transcript:
    """Transcribe the first audio stream of ``path``: only its speech when ``use_vad`` (the operator's
    way), all of it otherwise (the baseline that ``bench/vad.py`` compares with), in windows of at
    most ``max_window_s`` seconds.

    An empty transcript (language "") means no speech was found.
    """
    chunks = iter_audio(path, SAMPLE_RATE, CHUNK_S)
    if use_vad:
        # Spans are cut at pauses so none exceeds a window: no word is split between two windows.
        spans, duration = inference.speech_spans(chunks, max_speech_s=max_window_s)
    else:
        duration = sum(chunk.size for chunk in chunks) / SAMPLE_RATE
        spans = [(0.0, duration)]
    if not spans:
        return Transcript(language="", segments=[], duration=duration)
    return inference.transcribe_windows(
        gather_windows(iter_audio(path, SAMPLE_RATE, CHUNK_S), plan_windows(spans, max_window_s)), duration
    )


Utterance = tuple[float, float, str, list[dict[str, object]]]


def utterances(seg: TranscriptSegment) -> list[Utterance]:
    """A Whisper segment as utterances (start, end, text, words): split where its words pause
    :data:`PAUSE_S` or longer; whole (its own bounds and text) when it has no word timings."""
    if not seg.words:
        return [(seg.start, seg.end, seg.text, [])]
    groups: list[list[Word]] = [[seg.words[0]]]
    for before, word in pairwise(seg.words):
        if word.start - _said_by(before) >= PAUSE_S:
            groups.append([])
        groups[-1].append(word)
    if len(groups) == 1:
        return [(seg.start, seg.end, seg.text, [_word(w) for w in seg.words])]
    return [
        (group[0].start, _said_by(group[-1]), " ".join(w.text.strip() for w in group), [_word(w) for w in group])
        for group in groups
    ]


def _said_by(word: Word) -> float:
    return min(word.end, word.start + MAX_WORD_S)


def _word(w: Word) -> dict[str, object]:
    return {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3), "confidence": round(w.probability, 4)}


class Transcribe(AudioOperator):
    name = "transcribe"
    version = "4"  # 4: a segment split where its words pause 1.5 s or longer
    produces = frozenset({TEXT})
    # Routing picks a model per window: lineage names the router (its threshold, both models, their
    # versions and compute types); the model each segment came from, and why, are in the data.
    role = Role.SPEECH_ROUTER

    def run(self, ctx: OperatorContext) -> OperatorResult:
        transcript = transcribe_file(ctx.media_path, ctx.inference)
        result = OperatorResult()
        all_words: list[dict[str, object]] = []
        keys = (f"t{number:05d}" for number in count())
        for seg in transcript.segments:
            if not seg.text:
                continue
            for start, end, text, words in utterances(seg):
                all_words.extend(words)
                result.segments.append(
                    SegmentOut(
                        kind="transcript",
                        key=next(keys),
                        start=start,
                        end=end,
                        text=text,
                        confidence=math.exp(seg.avg_logprob),
                        data={
                            "words": words,
                            "language": seg.language or transcript.language,
                            "model": seg.model or transcript.model,
                            "avg_logprob": seg.avg_logprob,
                            "no_speech_prob": seg.no_speech_prob,
                        },
                    )
                )
        speech = bool(transcript.language)
        probability = transcript.language_probability
        result.artifacts.append(
            ArtifactOut(
                kind="transcript",
                data={
                    "speech": speech,
                    "language": transcript.language or None,
                    "language_probability": round(probability, 4) if speech and probability is not None else None,
                    "languages": transcript.languages,
                    "model": transcript.model or None,
                    "route": transcript.route.as_data() if transcript.route else None,
                    "text": " ".join(seg.text for seg in result.segments if seg.text),
                    "words_count": len(all_words),
                    "words": all_words,
                    "speech_seconds": round(transcript.speech_seconds, 3),
                    "duration": round(transcript.duration, 3),
                },
            )
        )
        return result
