"""Cheap-first speech routing against always using the big model, on a mixed set of languages.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/routing.py [--set mixed|tune]

The mixed set (the default): Debian's five LibriVox recordings (real English), three of them again
under white noise at 0 dB SNR (hard English), six espeak-ng English sentences and two sentences each
in German, French and Spanish (espeak-ng voices de, fr-fr, es). The espeak-ng audio is made at run
time in a temporary folder. The tune set is what the default ``speech_escalate_logprob`` was chosen
on: other sentences (8 English, 5 each German, French, Spanish), the LibriVox files under noise at
5 and -3 dB, and three English sentences spoken at 300 words a minute.

Every item goes through VAD as in the transcribe operator; its speech is then transcribed twice:

- routed: :class:`SpeechRouter` as configured (tiny.en on the first window, base when tiny.en is
  unsure, after identifying the language);
- always base: base identifies the language, then transcribes (no tiny.en).

Cost is the compute the models spent (the wall seconds of every model call, as the inference stats
count them) at ``compute_usd_per_hour``; the process's CPU seconds are printed too (steadier when
other work shares the machine). VAD is left out: both policies pay it alike. Where base's decode fails
(short or synthetic non-English) it falls back to sampling at higher temperatures, so the same item
can cost base a few seconds more or less from one run to the next, whichever policy ran it.

The threshold sweep at the end replays the routing decision at other thresholds from two more runs
per item (tiny.en's first-window probe alone, and the router forced to escalate), so it shows what
each threshold would cost and keep without rerunning everything.

WER is pooled per group (all edits over all reference words). Normalisation as eval/speech.py:
lowercase; mr/mrs/dr -> mister/missus/doctor; integers as English words; hyphens split words; other
non-letter/digit characters removed. German, French and Spanish: lowercase and punctuation only.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from speech import NORMALISATION, wer  # eval/speech.py

from mediasift.config import load_settings
from mediasift.inference import stats
from mediasift.inference.door import Inference
from mediasift.inference.speech import LANGUAGE_SURE, SURE, SpeechRouter, probe_verdict
from mediasift.media.audio import decode_audio
from mediasift.media.speech_windows import SAMPLE_RATE, gather_windows, plan_windows
from mediasift.models.transcripts import Route, Transcript
from mediasift.models.whisper import MAX_WINDOW_S, PROBE

from support.librivox import recordings  # eval/speech.py puts tests/ on the path

# The cache off: every policy transcribes.
INFERENCE = Inference(load_settings().model_copy(update={"inference_cache": False}))

VOICES = {"en": "en", "de": "de", "fr": "fr-fr", "es": "es"}

MIXED = {
    "en": [
        "The quick brown fox jumps over the lazy dog.",
        "She sells sea shells by the sea shore every summer morning.",
        "Please remember to bring your umbrella because it might rain later today.",
        "A small boat drifted slowly across the quiet lake at sunset.",
        "He poured a cup of coffee and read the newspaper in the kitchen.",
        "Our neighbors are building a wooden fence around their garden.",
    ],
    "de": [
        "Heute ist das Wetter in Berlin sehr schön. Wir gehen am Nachmittag in den Park.",
        "Der Zug nach München fährt um acht Uhr ab. Ich kaufe die Fahrkarte am Schalter.",
    ],
    "fr": [
        "Bonjour, je voudrais réserver une table pour deux personnes ce soir.",
        "Les enfants jouent dans le jardin pendant que leurs parents préparent le dîner.",
    ],
    "es": [
        "Buenos días, quisiera comprar dos billetes para el tren de Madrid.",
        "Los niños juegan en el parque mientras sus padres preparan la cena.",
    ],
}
TUNE = {
    "en": [
        "The museum will be closed on Monday for repairs.",
        "My brother bought a new bicycle last week.",
        "The weather forecast says it will snow tomorrow night.",
        "Please turn off the lights when you leave the room.",
        "The committee approved the budget after a long discussion.",
        "We walked along the river until the sun went down.",
        "Could you send me the report before the meeting?",
        "The old bridge was rebuilt with stone and steel.",
    ],
    "de": [
        "Am Wochenende fahren wir mit dem Fahrrad an den See.",
        "Die Kinder spielen im Garten hinter dem Haus.",
        "Der Arzt hat mir empfohlen, mehr Wasser zu trinken.",
        "Wir haben gestern einen langen Spaziergang gemacht.",
        "Das Museum ist am Montag geschlossen.",
    ],
    "fr": [
        "Nous allons au marché tous les samedis matin.",
        "Le train pour Paris part à dix heures.",
        "Ma soeur habite dans une petite maison près de la mer.",
        "Il fait très froid ce matin, prends ton manteau.",
        "Le musée est fermé le lundi.",
    ],
    "es": [
        "Mañana vamos a visitar a mis abuelos en el pueblo.",
        "El restaurante abre a las ocho de la noche.",
        "Me gusta leer un libro antes de dormir.",
        "La biblioteca está cerca de la estación de tren.",
        "El museo está cerrado los lunes.",
    ],
}
SWEEP = (-0.5, -0.6, -0.7, -0.8, -0.9, -1.0)


@dataclass(frozen=True)
class Item:
    name: str
    group: str
    language: str
    reference: str
    audio: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Run:
    transcript: Transcript
    model_s: float  # what the model calls took, as the stats count it
    cpu_s: float


class AlwaysBase(SpeechRouter):
    """The big model on everything: base identifies the language, then transcribes every window (in
    the language the router would choose for it, candidates decoded when base is unsure)."""

    def route(self, audio: npt.NDArray[np.float32], previous: Transcript | None = None) -> Transcript:
        identified = self.multilingual.detect_language(audio)
        part, choice = self.in_language(audio, identified, previous.language if previous is not None else None)
        route = Route(
            self.multilingual.ref.id,
            "always base",
            "none",
            None,
            math.inf,
            True,
            language_identified=True,
            language_choices=() if choice is None else (choice,),
        )
        return dataclasses.replace(part, language_probability=identified.probability_of(part.language), route=route)


# ------------------------------------------------------------------------------- the items


def librivox() -> list[tuple[str, str, npt.NDArray[np.float32]]]:
    return [(path.stem[-4:], reference, decode_audio(path)) for path, reference in recordings()]


def with_noise(audio: npt.NDArray[np.float32], snr_db: float, seed: int) -> npt.NDArray[np.float32]:
    noise = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
    noise *= np.sqrt(np.mean(audio**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def espeak(folder: Path, name: str, text: str, voice: str, words_per_minute: int = 160) -> npt.NDArray[np.float32]:
    path = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text], check=True)
    return decode_audio(path)


def build_items(which: str, folder: Path) -> list[Item]:
    read_aloud = librivox()
    items = [Item(f"librivox {n}", "English, LibriVox", "en", ref, audio) for n, ref, audio in read_aloud]
    noisy = [(0.0, read_aloud[:3])] if which == "mixed" else [(5.0, read_aloud), (-3.0, read_aloud)]
    for snr, chosen in noisy:
        group = f"English, LibriVox + noise {snr:g} dB"
        items += [
            Item(f"librivox {n} {snr:g}dB", group, "en", ref, with_noise(audio, snr, seed))
            for seed, (n, ref, audio) in enumerate(chosen)
        ]
    sentences = MIXED if which == "mixed" else TUNE
    names = {"en": "English, espeak-ng", "de": "German", "fr": "French", "es": "Spanish"}
    for language, texts in sentences.items():
        for index, text in enumerate(texts):
            name = f"{language}{index}"
            audio = espeak(folder, name, text, VOICES[language])
            items.append(Item(f"espeak {name}", names[language], language, text, audio))
    if which == "tune":
        for index, text in enumerate(TUNE["en"][:3]):
            audio = espeak(folder, f"fast{index}", text, "en", 300)
            items.append(Item(f"espeak fast{index}", "English, espeak-ng 300 wpm", "en", text, audio))
    return items


# ------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Row:
    item: Item
    routed: Run
    base: Run  # always base
    probe: Run  # tiny.en's probe of the first window alone
    escalated: Run  # the router forced to escalate

    @property
    def english(self) -> bool:
        return self.item.language == "en"


def measure(work: Callable[[], Transcript], model_ids: set[str]) -> Run:
    """Run ``work``, counting the seconds its model calls took."""

    def spent() -> float:
        return sum(v for (mid, _, counter), v in stats.totals().items() if counter == "seconds" and mid in model_ids)

    before, cpu = spent(), time.process_time()
    transcript = work()
    return Run(transcript, spent() - before, time.process_time() - cpu)


def evaluate(item: Item, routed: SpeechRouter) -> Row:
    """``item`` through VAD, then each policy on its speech."""
    tiny, base = routed.english, routed.multilingual
    always, forced = AlwaysBase(tiny, base, routed.escalate_logprob), SpeechRouter(tiny, base, math.inf)
    model_ids = {tiny.ref.id, base.ref.id}
    spans, _ = INFERENCE.speech_spans([item.audio], max_speech_s=MAX_WINDOW_S)
    windows = list(gather_windows([item.audio], plan_windows(spans, MAX_WINDOW_S)))
    duration = item.audio.size / SAMPLE_RATE
    first = windows[0][1] if windows else np.zeros(0, dtype=np.float32)

    def policy(recognizer: SpeechRouter) -> Run:
        return measure(lambda: recognizer.transcribe_windows(windows, duration), model_ids)

    probe = measure(lambda: tiny.transcribe(first, "en", PROBE), model_ids)
    return Row(item, policy(routed), policy(always), probe, policy(forced))


def short(model_id: str) -> str:
    return "tiny.en" if "tiny" in model_id else "base"


def pooled_wer(rows: list[Row], pick: Callable[[Row], Run]) -> float:
    return wer([(r.item.reference, pick(r).transcript.text) for r in rows], rows[0].english)


def print_row(row: Row) -> None:
    routed, route = row.routed.transcript, row.routed.transcript.route
    lp = "" if route is None or route.first_window_logprob is None else f"{route.first_window_logprob:.2f}"
    print(
        f"{row.item.name:22} {row.item.audio.size / SAMPLE_RATE:4.1f} {lp:>6} {route.probe if route else '-':19}"
        f" {short(routed.model) if route else '-':7} {routed.language:>4} {row.base.transcript.language:>4}"
        f" {row.routed.model_s:8.2f} {row.base.model_s:6.2f} {pooled_wer([row], lambda r: r.routed):10.3f}"
        f" {pooled_wer([row], lambda r: r.base):8.3f}  {routed.text[:50]!r}",
        flush=True,
    )


def print_summary(rows: list[Row]) -> None:
    up = sum(1 for r in rows if r.routed.transcript.route and r.routed.transcript.route.escalated)
    routed_s, base_s = sum(r.routed.model_s for r in rows), sum(r.base.model_s for r in rows)
    routed_cpu, base_cpu = sum(r.routed.cpu_s for r in rows), sum(r.base.cpu_s for r in rows)
    audio_s = sum(r.item.audio.size for r in rows) / SAMPLE_RATE
    print(f"share escalated to base: {up}/{len(rows)} = {up / len(rows):.0%}")
    wasted = sum(r.probe.model_s for r in rows if r.routed.transcript.route and r.routed.transcript.route.escalated)
    print(f"tiny.en probes thrown away on escalation: {wasted:.2f} s ({wasted / max(up, 1):.2f} s per escalated item)")
    price = INFERENCE.settings.compute_usd_per_hour
    print(
        f"model compute on {audio_s:.1f} s of audio: routed {routed_s:.2f} s"
        f" (${stats.compute_cost(routed_s, price):.6f}), always base {base_s:.2f} s"
        f" (${stats.compute_cost(base_s, price):.6f}): routing saves {1 - routed_s / base_s:.0%}"
    )
    print(
        f"process CPU: routed {routed_cpu:.2f} s, always base {base_cpu:.2f} s: saves {1 - routed_cpu / base_cpu:.0%}"
    )
    right = sum(1 for r in rows if r.routed.transcript.language == r.item.language)
    right_base = sum(1 for r in rows if r.base.transcript.language == r.item.language)
    print(f"language right: routed {right}/{len(rows)}, always base {right_base}/{len(rows)}")
    choices = [c for r in rows if r.routed.transcript.route for c in r.routed.transcript.route.language_choices]
    print(
        f"windows base was unsure of (under {LANGUAGE_SURE:g}), routed: {len(choices)}, decoded in"
        f" {sum(len(c.candidates) for c in choices)} candidate languages; the likeliest overruled in"
        f" {sum(c.chosen != c.identified for c in choices)}"
    )


def print_groups(rows: list[Row]) -> None:
    print(f"{'group':34} {'n':>2} {'escalated':>9} {'WER routed':>10} {'WER base':>8} {'routed s':>8} {'base s':>6}")
    groups = sorted({r.item.group for r in rows}, key=lambda g: (not g.startswith("English"), g))
    selections: list[tuple[str, Callable[[Row], bool]]] = [(g, lambda r, g=g: r.item.group == g) for g in groups]
    selections += [("all English", lambda r: r.english), ("all other languages", lambda r: not r.english)]
    for name, selected in selections:
        chosen = [r for r in rows if selected(r)]
        up = sum(1 for r in chosen if r.routed.transcript.route and r.routed.transcript.route.escalated)
        print(
            f"{name:34} {len(chosen):2d} {up:9d} {pooled_wer(chosen, lambda r: r.routed):10.3f}"
            f" {pooled_wer(chosen, lambda r: r.base):8.3f} {sum(r.routed.model_s for r in chosen):8.2f}"
            f" {sum(r.base.model_s for r in chosen):6.2f}"
        )


def print_sweep(rows: list[Row]) -> None:
    print("threshold sweep (replayed from each item's tiny.en probe and forced-escalation runs):")
    print(f"{'escalate below':>14} {'escalated':>9} {'model s':>7} {'WER English':>11} {'WER other':>9}")
    english, other = [r for r in rows if r.english], [r for r in rows if not r.english]
    for threshold in SWEEP:
        stays = {r.item.name for r in rows if probe_verdict(r.probe.transcript, threshold) == SURE}

        def pick(r: Row, stays: set[str] = stays) -> Run:
            return r.probe if r.item.name in stays else r.escalated

        seconds = sum(pick(r).model_s for r in rows)
        up = len(rows) - len(stays)
        print(
            f"{threshold:14.2f} {up:4d}/{len(rows):<4d} {seconds:7.2f} {pooled_wer(english, pick):11.3f}"
            f" {pooled_wer(other, pick):9.3f}"
        )
    base_s = sum(r.base.model_s for r in rows)
    print(
        f"{'always base':>14} {len(rows):4d}/{len(rows):<4d} {base_s:7.2f}"
        f" {pooled_wer(english, lambda r: r.base):11.3f} {pooled_wer(other, lambda r: r.base):9.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("mixed", "tune"), default="mixed")
    args = parser.parse_args()

    routed = INFERENCE.speech_router
    warm = np.zeros(SAMPLE_RATE, dtype=np.float32)
    # Loads both models before anything is timed.
    AlwaysBase(routed.english, routed.multilingual, routed.escalate_logprob).transcribe(warm)
    routed.english.transcribe(warm, "en")
    with tempfile.TemporaryDirectory(prefix="routing-") as tmp:
        items = build_items(args.set, Path(tmp))
    print(f"{args.set} set: {len(items)} items; {routed.ref.id} escalating below {routed.escalate_logprob:g}")
    for model in (routed.english, routed.multilingual):
        print(f"  {model.ref.id} {model.ref.version}")
    print(NORMALISATION)
    print()
    print(
        f"{'item':22} {'s':>4} {'lp':>6} {'probe':19} {'routed':7} {'lang':>4} {'base':>4}"
        f" {'routed s':>8} {'base s':>6} {'WER routed':>10} {'WER base':>8}"
    )
    rows = []
    for item in items:
        rows.append(evaluate(item, routed))
        print_row(rows[-1])
    print()
    print_summary(rows)
    print()
    print_groups(rows)
    print()
    print_sweep(rows)


if __name__ == "__main__":
    main()
