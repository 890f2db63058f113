"""Whisper int8 against float32 on CTranslate2: speed and WER, on Debian's five LibriVox recordings.

Both models mediasift runs (tiny.en and multilingual base, told the language is English) are loaded
twice, once per compute type, with the same threads (``model_threads``) and decoding as the
transcribe operator (beam 5, word timestamps, temperature fallback). Each repeat transcribes the five
files (24.7 s) with every model in turn, int8 and float32 alternating so that a busy machine slows
both alike; the figure is the median over repeats of the five files' total. CPU time (all threads of
this process) is printed beside wall time: it is steadier when other work shares the machine.

WER is pooled over the five files, normalised as eval/speech.py does (lowercase; mr -> mister;
numbers as words; punctuation removed). Memory is the growth of this process's resident set when the
model loads.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/whisper_quant.py [--repeats 3] [--models tiny.en,base]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import re
import statistics
import time
from dataclasses import dataclass, field

import jiwer
import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.media.audio import decode_audio
from mediasift.models import devices
from mediasift.models.whisper import Whisper, load_base, load_tiny_en

from support.librivox import recordings

SR = 16000


def normalise(text: str) -> str:
    words = []
    for raw in text.lower().replace("-", " ").split():
        token = re.sub(r"[^\w]", "", raw)
        words.append({"mr": "mister", "mrs": "missus", "dr": "doctor"}.get(token, token))
    return " ".join(w for w in words if w)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@dataclass
class Candidate:
    name: str
    compute_type: str
    model: Whisper
    load_s: float = 0.0
    memory_mb: float = 0.0
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def transcribe(self, audio: npt.NDArray[np.float32]) -> str:
        return self.model.decode(audio, "en").text


def build(name: str, compute_type: str) -> Candidate:
    settings = load_settings().model_copy(update={"whisper_compute_type": compute_type})
    before, start = rss_mb(), time.perf_counter()
    model = load_tiny_en(settings) if name == "tiny.en" else load_base(settings)
    model.decode(np.zeros(SR, dtype=np.float32), "en")  # warms it up
    candidate = Candidate(name, compute_type, model, time.perf_counter() - start, rss_mb() - before)
    print(f"loaded {name} {model.compute.compute_type} on {model.compute.device}: {candidate.load_s:.2f} s", flush=True)
    return candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="tiny.en,base", help="comma-separated: tiny.en, base")
    args = parser.parse_args()
    print(devices.describe())
    recorded = recordings()
    references = {path.stem: normalise(text) for path, text in recorded}
    wavs = [path for path, _ in recorded]
    audios = [decode_audio(p) for p in wavs]
    audio_s = sum(a.size for a in audios) / SR
    threads = load_settings().model_threads

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    candidates = [build(name, compute) for name in names for compute in ("int8", "float32")]
    for repeat in range(args.repeats):
        # int8 first on even repeats, float32 first on odd ones
        order = candidates if repeat % 2 == 0 else [candidates[i ^ 1] for i in range(len(candidates))]
        for candidate in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            candidate.texts = [candidate.transcribe(audio) for audio in audios]
            candidate.wall.append(time.perf_counter() - start)
            candidate.cpu.append(time.process_time() - start_cpu)

    print(f"\n{len(wavs)} LibriVox files, {audio_s:.1f} s of speech; {threads} threads; median of {args.repeats}")
    print(f"{'model':8} {'compute':8} {'load s':>6} {'RSS MB':>6} {'wall s':>7} {'CPU s':>6} {'RTF':>6} {'WER':>6}")
    results = {}
    for c in candidates:
        wall, cpu = statistics.median(c.wall), statistics.median(c.cpu)
        error = float(jiwer.wer([references[p.stem] for p in wavs], [normalise(t) for t in c.texts]))
        results[c.name, c.compute_type] = (wall, cpu, error)
        print(
            f"{c.name:8} {c.model.compute.compute_type:8} {c.load_s:6.2f} {c.memory_mb:6.0f} {wall:7.2f} {cpu:6.2f}"
            f" {wall / audio_s:6.3f} {error:6.3f}"
        )
    print()
    for name in names:
        (w8, c8, e8), (w32, c32, e32) = results[name, "int8"], results[name, "float32"]
        print(
            f"{name}: int8 is {w32 / w8:.2f}x as fast as float32 (wall; CPU {c32 / c8:.2f}x);"
            f" WER int8 {e8:.3f} vs float32 {e32:.3f} (difference {e8 - e32:+.3f})"
        )


if __name__ == "__main__":
    main()
