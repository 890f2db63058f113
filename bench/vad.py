"""What VAD saves the transcribe operator on a file that is half speech, half something else.

The file is Debian's five real LibriVox utterances (24.7 s) and as much of something else: digital
silence (zeros), room tone (what a quiet room records between words: pink noise at -55 dBFS RMS with
a 50 Hz mains hum and its harmonics at -65 dBFS), music (a synthetic chord melody) or noise (white,
-26 dBFS), in three layouts: one long gap after all the speech ("gap after"), the same gap before it
("gap first": a long intro), or short gaps, each utterance followed by a gap as long as itself.
Each is transcribed through the operator's path
(:func:`mediasift.operators.transcribe.transcribe_file`) with VAD, which sends only the speech to
Whisper, and without, which sends every 30 s window; and, as the plainest baseline, by tiny.en alone
on the whole file (what faster-whisper does without its VAD filter: no router, no language
identification). All in this run, after a warm-up, median of 3. The ratios with VAD / without are
the figure (target <= 0.60), against both baselines: wall time, and CPU time of the process,
steadier on a shared machine. WER of each is printed too, to show that what is skipped is not speech
(and what Whisper makes of the rest). "to base" counts the windows the router sent to base, out of
all windows, without VAD / with VAD: the router tries tiny.en on each window and sends what it is
unsure of to base, with a language identification; without VAD a window of gap is one of those
(tiny.en hears "You" in digital silence at log-probability -0.78, under the -0.7 it keeps). So
against the operator without VAD, part of what VAD saves is base's time on gaps; against plain
tiny.en it is only Whisper's own time on the gaps.

The last lines say where the time goes: tiny.en on 24.7 s of each content alone, and what base's
language identification costs when the router needs it (English that tiny.en is sure of skips it).
Whisper spends little on a window of digital silence or steady noise (one encoder pass, a token or
two) and most on speech, which both paths transcribe; it spends the most on music and room tone
(hallucinated words, temperature fallbacks after failed decodes), so that is where VAD pays.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/vad.py [--repeats 3]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.inference import stats
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.media.audio import decode_audio
from mediasift.models import devices
from mediasift.models.transcripts import Transcript
from mediasift.models.whisper import Whisper
from mediasift.operators.transcribe import transcribe_file

from support.librivox import recordings
from support.mediagen import write_wav

SR = 16000


def melody(samples: int, seed: int) -> npt.NDArray[np.float32]:
    """Major triads with five harmonics, a new chord every 0.4 s, plucked envelope."""
    rng = np.random.default_rng(seed)
    note = round(0.4 * SR)
    t = np.arange(note) / SR
    envelope = np.exp(-3 * t) * (1 - np.exp(-200 * t))
    out = np.zeros(samples + note, dtype=np.float64)
    for start in range(0, samples, note):
        root = 60 + int(rng.choice([0, 2, 4, 5, 7, 9, 11, 12]))
        chord = sum(
            np.sin(2 * np.pi * 440 * 2 ** ((root + semitone - 69) / 12) * h * t) / h**1.5
            for semitone in (0, 4, 7)
            for h in range(1, 6)
        )
        out[start : start + note] += chord * envelope
    return (0.2 * out[:samples] / np.abs(out).max()).astype(np.float32)


def noise(samples: int, seed: int) -> npt.NDArray[np.float32]:
    return (0.05 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def silence(samples: int, seed: int) -> npt.NDArray[np.float32]:
    return np.zeros(samples, dtype=np.float32)


def room_tone(samples: int, seed: int) -> npt.NDArray[np.float32]:
    """Pink noise (power falling 3 dB an octave) at -55 dBFS RMS, plus a 50 Hz hum with two harmonics
    at -65 dBFS: a quiet room through a consumer microphone, not digital zero."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(samples, 1 / SR), 20.0))  # flat below 20 Hz
    pink = np.fft.irfft(spectrum, samples)
    t = np.arange(samples) / SR
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))
    return (_at_dbfs(pink, -55) + _at_dbfs(hum, -65)).astype(np.float32)


def _at_dbfs(signal: npt.NDArray[np.float64], dbfs: float) -> npt.NDArray[np.float64]:
    return signal * 10 ** (dbfs / 20) / np.sqrt(np.mean(signal**2))


def build(
    path: Path, utterances: list[npt.NDArray[np.float32]], filler: Callable[[int, int], np.ndarray], layout: str
) -> Path:
    speech = np.concatenate(utterances)
    if layout == "short gaps":
        parts = [part for i, said in enumerate(utterances) for part in (said, filler(said.size, i))]
    else:
        parts = [speech, filler(speech.size, 0)] if layout == "gap after" else [filler(speech.size, 0), speech]
    return write_wav(path, np.concatenate(parts), SR)


@dataclass(frozen=True)
class Timed:
    wall: float  # median seconds
    cpu: float
    transcript: Transcript
    windows: int  # decisions the router made in one run
    to_base: int  # ... of which sent a window to base


def timed(inference: Inference, path: Path, use_vad: bool, repeats: int) -> Timed:
    """Median wall and CPU seconds over ``repeats`` runs, the transcript and the router's decisions."""
    router = inference.speech_router.ref
    decisions, escalated = stats.count(router, "decisions"), stats.count(router, "escalated")
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        transcript = transcribe_file(path, inference, use_vad=use_vad)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timed(
        statistics.median(wall),
        statistics.median(cpu),
        transcript,
        round((stats.count(router, "decisions") - decisions) / repeats),
        round((stats.count(router, "escalated") - escalated) / repeats),
    )


def _plain(tiny: Whisper, path: Path, repeats: int) -> Timed:
    """tiny.en alone on the whole file: Whisper's own 30 s windows, no VAD, no router."""
    audio = decode_audio(path)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        transcript = tiny.decode(audio, "en")
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timed(statistics.median(wall), statistics.median(cpu), transcript, 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(devices.describe())
    # The cache off: every run transcribes.
    inference = Inference(load_settings().model_copy(update={"inference_cache": False}))
    tiny: Whisper = inference.handle(Role.WHISPER_TINY_EN).get()
    base: Whisper = inference.handle(Role.WHISPER_BASE).get()
    recorded = recordings()
    utterances = [decode_audio(path) for path, _ in recorded]
    reference = " ".join(text for _, text in recorded)

    def wer(text: str) -> float:
        clean = "".join(c if c.isalnum() or c == " " else " " for c in text.lower().replace("mr.", "mister"))
        return float(jiwer.wer(reference, " ".join(clean.split())))

    fillers = (("silence", silence), ("room", room_tone), ("music", melody), ("noise", noise))
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            (layout, name): build(Path(tmp) / f"{layout}-{name}.wav", utterances, filler, layout)
            for layout in ("gap after", "gap first", "short gaps")
            for name, filler in fillers
        }
        first = files["gap after", "silence"]
        transcribe_file(first, inference, use_vad=True)  # load and warm up every model
        transcribe_file(first, inference, use_vad=False)
        vad_start = time.perf_counter()
        inference.speech_spans([decode_audio(first)])
        vad_only = time.perf_counter() - vad_start
        duration = decode_audio(first).size / SR
        speech = sum(u.size for u in utterances) / SR
        print(f"files: {speech:.1f} s of LibriVox speech + {duration - speech:.1f} s of gap; median of {args.repeats};")
        print(f"VAD alone takes {1000 * vad_only:.0f} ms on {duration:.1f} s")
        print(
            f"{'layout':10} {'gap':8} {'plain s':>7} {'no VAD s':>8} {'VAD s':>6} {'ratio/plain':>11}"
            f" {'ratio/no VAD':>12} {'CPU ratios':>10} {'to ASR s':>10} {'to base':>9}"
            f" {'WER plain / no VAD / VAD':>25}"
        )
        for (layout, name), path in files.items():
            plain = _plain(tiny, path, args.repeats)
            whole, spoken = timed(inference, path, False, args.repeats), timed(inference, path, True, args.repeats)
            print(
                f"{layout:10} {name:8} {plain.wall:7.2f} {whole.wall:8.2f} {spoken.wall:6.2f}"
                f" {spoken.wall / plain.wall:11.2f} {spoken.wall / whole.wall:12.2f}"
                f" {spoken.cpu / plain.cpu:4.2f}/{spoken.cpu / whole.cpu:4.2f}"
                f" {spoken.transcript.speech_seconds:4.1f}/{whole.transcript.speech_seconds:<5.1f}"
                f" {whole.to_base}/{whole.windows}, {spoken.to_base}/{spoken.windows}"
                f" {wer(plain.transcript.text):9.3f} / {wer(whole.transcript.text):.3f}"
                f" / {wer(spoken.transcript.text):.3f}",
                flush=True,
            )
        # Where the time goes: one window of each content alone, and the language identification.
        joined = np.concatenate(utterances)
        contents = {"speech": joined, **{name: filler(joined.size, 0) for name, filler in fillers}}
        costs = {name: _median_seconds(lambda a: tiny.decode(a, "en"), audio) for name, audio in contents.items()}
        lid = _median_seconds(base.identify, joined)
    print("ratio = time with VAD / time without (target <= 0.60); CPU ratios: against plain / against no VAD")
    print(
        f"tiny.en on {joined.size / SR:.1f} s of "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in costs.items())
        + f"; language identification (base), only when tiny.en is unsure, {lid:.2f} s per file"
    )


def _median_seconds(work: Callable[[npt.NDArray[np.float32]], object], audio: npt.NDArray[np.float32]) -> float:
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        work(audio)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


if __name__ == "__main__":
    main()
