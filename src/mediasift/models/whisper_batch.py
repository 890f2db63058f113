"""Several windows decoded together: faster-whisper's pass-by-pass decode of one window, run for a
batch of windows at once, one CTranslate2 ``generate`` per pass.

Why: on the CPU a decoder step of tiny.en costs mostly reading its weights (the 51,865-token output
layer above all), whatever the number of hypotheses it scores, so scoring the beams of nine windows in
one step costs far less than nine steps. On the bench video's 9 windows of LibriVox (219 s of speech,
one thread) the decoder's time fell from 10.3 s to 6.8 s, with token for token the same output.

What runs is what ``WhisperModel.transcribe`` runs for the options :class:`~mediasift.models.whisper.Whisper`
gives it (no prompt from earlier text, one temperature, word timestamps, no voice-activity filter),
using faster-whisper's own pieces (features, prompt, the split at timestamps, word alignment): each
window is cut into passes of at most 30 s from where the previous pass's last closed segment ended
(faster-whisper's ``generate_segments``), a pass whose decode looks like silence (no-speech
probability over 0.6 with an average log-probability under -1) skips its 30 s, and each window's
words are aligned on its own encoder output, with its own last-speech time, as alone. Only the token
budget is shared: a pass's is the largest of those its windows ask for (``max_length`` is one per
call), so a shorter window in the batch may get a few more tokens than alone.

Only the decode at temperature 0 is done here: temperature fallback (a decode that fails decoded
again, less greedily) goes window by window.

Second passes: a window whose first pass ends by opening a segment it does not finish (5 of the bench
video's 9 windows, well within their token budget; a second of silence appended to each window left
them so) gets a pass of its own for the rest, 2.3 to 5.4 s holding 8 to 20 tokens of words no first
pass gave: 14 encoder passes in all, at 0.42 CPU s each for tiny.en on one thread. Joining
those tails into one pass would save about 1.7 s, but would decode five windows' tails as one text
(each conditioned on the others', with one log-probability for the router's test), so it is not done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

# faster-whisper's defaults for the options the window-by-window decode leaves alone.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
MAX_INITIAL_TIMESTAMP_S = 1.0
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@dataclass
class WindowPasses:
    """One window's decode in progress: its features, where the next pass starts (in feature
    frames), the end of its last aligned word, and the segments found so far (faster-whisper's
    dicts, with the pass's scores added)."""

    features: npt.NDArray[np.float32]
    budget: int | None
    seek: int = 0
    last_speech: float = 0.0
    segments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content_frames(self) -> int:
        return int(self.features.shape[-1]) - 1

    @property
    def done(self) -> bool:
        return self.seek >= self.content_frames


def decode_windows(
    model: Any, windows: Sequence[npt.NDArray[np.float32]], language: str, beam_size: int,
    budget: Callable[[float], int | None],
) -> list[list[dict[str, Any]]]:  # fmt: skip
    """The segments (dicts with start, end, text, tokens, words, avg_logprob, no_speech_prob,
    compression_ratio; times within the window) of each of ``windows`` (mono 16 kHz), decoded by
    ``model`` (a ``faster_whisper.WhisperModel`` on the CPU) in ``language`` at temperature 0 with
    ``beam_size`` beams and a token budget of ``budget(seconds of the window)``."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    prompt = model.get_prompt(tokenizer, [], without_timestamps=False)
    suppress = get_suppressed_tokens(tokenizer, [-1])
    frames_per_pass = model.feature_extractor.nb_max_frames
    seconds_per_frame = model.feature_extractor.time_per_frame
    states = [WindowPasses(model.feature_extractor(samples), budget(samples.size / 16000)) for samples in windows]
    while active := [state for state in states if not state.done]:
        sizes = [min(frames_per_pass, state.content_frames - state.seek) for state in active]
        # One window at a time through the encoder: a batch of them there is slower (10.4 s against
        # 6.4 s for the bench's 14 passes), and each window's words are aligned on its own output.
        encoded = [
            model.encode(_padded(state.features[:, state.seek : state.seek + size], frames_per_pass))
            for state, size in zip(active, sizes, strict=True)
        ]
        budgets = [state.budget for state in active]
        new_tokens = None if None in budgets else max(b for b in budgets if b is not None)
        results = model.model.generate(
            ctranslate2.StorageView.from_array(np.concatenate([np.asarray(output) for output in encoded])),
            [prompt] * len(active),
            beam_size=beam_size,
            max_length=model.max_length if new_tokens is None else len(prompt) + new_tokens,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=suppress,
            max_initial_timestamp_index=round(MAX_INITIAL_TIMESTAMP_S / model.time_precision),
        )  # fmt: skip
        for state, size, result, output in zip(active, sizes, results, encoded, strict=True):
            _take_pass(model, tokenizer, state, size, seconds_per_frame, result, output)
    return [state.segments for state in states]


def _padded(features: npt.NDArray[np.float32], frames: int) -> npt.NDArray[np.float32]:
    """``features`` cut or padded with zeros to ``frames`` frames (faster-whisper's ``pad_or_trim``)."""
    out = np.zeros((features.shape[0], frames), dtype=np.float32)
    out[:, : min(frames, features.shape[1])] = features[:, :frames]
    return out


def _take_pass(
    model: Any, tokenizer: Any, state: WindowPasses, size: int, seconds_per_frame: float, result: Any, encoded: Any,
) -> None:  # fmt: skip
    """One pass's decode of a window (``encoded``: the pass's encoder output): its segments kept
    and the window's next pass placed, as faster-whisper's ``generate_segments`` does."""
    from faster_whisper.transcribe import get_compression_ratio
    from faster_whisper.utils import get_end

    tokens = result.sequences_ids[0]
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    if result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob <= LOG_PROB_THRESHOLD:
        state.seek += size  # silence: on to the next 30 s
        return
    time_offset = state.seek * seconds_per_frame
    segments, seek, single_timestamp_ending = model._split_segments_by_timestamps(
        tokenizer=tokenizer, tokens=tokens, time_offset=time_offset, segment_size=size,
        segment_duration=size * seconds_per_frame, seek=state.seek,
    )  # fmt: skip
    model.add_word_timestamps(
        [segments], tokenizer, encoded, size,
        PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS, last_speech_timestamp=state.last_speech,
    )  # fmt: skip
    last_word_end = get_end(segments)
    if not single_timestamp_ending and last_word_end is not None and last_word_end > time_offset:
        seek = round(last_word_end * model.frames_per_second)
    state.seek = seek
    if last_word_end is not None:
        state.last_speech = last_word_end
    compression_ratio = get_compression_ratio(tokenizer.decode(tokens).strip())
    for segment in segments:
        text = tokenizer.decode(segment["tokens"])
        if segment["start"] == segment["end"] or not text.strip():
            continue
        state.segments.append(
            {**segment, "text": text, "avg_logprob": avg_logprob, "no_speech_prob": result.no_speech_prob,
             "compression_ratio": compression_ratio}
        )  # fmt: skip
