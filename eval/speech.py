"""Speech recognition quality through mediasift's own path (VAD, language routing, windows).

    HF_HUB_OFFLINE=1 .venv/bin/python eval/speech.py

Prints:

- WER on Debian pocketsphinx-testdata's five real LibriVox recordings (per file and pooled: all
  errors over all reference words), which the router should send to tiny.en;
- WER on ten espeak-ng English sentences, and the word timing error on them;
- WER on three espeak-ng German sentences, which must be routed to the multilingual base model;
- language identification on espeak-ng in 18 languages (three sentences each in French, Spanish,
  German, Italian, Portuguese, Dutch, Polish and Swedish, one each in ten languages of other scripts):
  how often base's likeliest language is right, and how often the router's is, which decodes the
  window in the likeliest few when base is unsure (``LANGUAGE_SURE``);
- what identifying the language costs next to transcribing.

Normalisation, applied to reference and hypothesis alike: lowercase; "mr"/"mrs"/"dr" read as
"mister"/"missus"/"doctor"; integers written as English words ("21" -> "twenty one"); hyphens split
words; every other character that is not a letter, digit or space removed (so "don't" -> "dont").

Word timing ground truth comes from espeak-ng itself: the sentences are synthesised through
libespeak-ng (ctypes) with phoneme events on, and each event carries the sample it starts at. A word
starts at its first phoneme and ends where the next word's first phoneme or a pause begins. The
hypothesis is aligned to the reference (jiwer); only words recognised exactly are timed.
"""

from __future__ import annotations

import ctypes
import re
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.inference import stats
from mediasift.inference.door import Inference
from mediasift.inference.speech import LANGUAGE_IDENTIFICATION_SECONDS, LANGUAGE_IDENTIFICATIONS, LANGUAGE_SURE
from mediasift.models.transcripts import Transcript
from mediasift.operators.transcribe import transcribe_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.librivox import recordings

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore every summer morning.",
    "Please remember to bring your umbrella because it might rain later today.",
    "The library opens at nine and closes late on weekends.",
    "A small boat drifted slowly across the quiet lake at sunset.",
    "Scientists discovered a new species of frog in the rainforest.",
    "He poured a cup of coffee and read the newspaper in the kitchen.",
    "The train to London was delayed by almost an hour this morning.",
    "Children were playing football in the park after school.",
    "Our neighbors are building a wooden fence around their garden.",
]
GERMAN = [
    "Heute ist das Wetter in Berlin sehr schön.",
    "Ich trinke jeden Morgen eine Tasse Kaffee mit Milch.",
    "Der Zug nach München fährt um acht Uhr ab.",
]
# Whisper's language code: the espeak-ng voice and sentences in that language.
LANGUAGES: dict[str, tuple[str, list[str]]] = {
    "fr": ("fr", [
        "Nous allons au marché tous les samedis matin.",
        "Il fait très froid ce matin, prends ton manteau.",
        "Ma soeur habite dans une petite maison près de la mer.",
    ]),
    "es": ("es", [
        "Mañana vamos a visitar a mis abuelos en el pueblo.",
        "La biblioteca está cerca de la estación de tren.",
        "Me gusta leer un libro antes de dormir.",
    ]),
    "de": ("de", [
        "Am Wochenende fahren wir mit dem Fahrrad an den See.",
        "Die Kinder spielen im Garten hinter dem Haus.",
        "Wir haben gestern einen langen Spaziergang gemacht.",
    ]),
    "it": ("it", [
        "Domani andiamo al mare con i nostri amici.",
        "Il treno per Roma parte alle otto di mattina.",
        "Mia sorella lavora in una piccola libreria del centro.",
    ]),
    "pt": ("pt", [
        "Amanhã vamos visitar os nossos avós na aldeia.",
        "O comboio para Lisboa parte às nove horas.",
        "Eu gosto de ler um livro antes de dormir.",
    ]),
    "nl": ("nl", [
        "Morgen gaan we met de fiets naar het strand.",
        "De trein naar Amsterdam vertrekt om acht uur.",
        "Mijn zus woont in een klein huis bij de zee.",
    ]),
    "pl": ("pl", [
        "Jutro pojedziemy nad morze z przyjaciółmi.",
        "Pociąg do Warszawy odjeżdża o ósmej rano.",
        "Moja siostra mieszka w małym domu przy lesie.",
    ]),
    "sv": ("sv", [
        "I morgon åker vi till havet med våra vänner.",
        "Tåget till Stockholm går klockan åtta.",
        "Min syster bor i ett litet hus vid sjön.",
    ]),
    "th": ("th", ["วันนี้อากาศดีมาก เราจะไปเที่ยวทะเลกันตอนบ่าย"]),
    "zh": ("cmn", ["今天天气很好，我们下午去公园散步。"]),
    "ru": ("ru", ["Сегодня очень хорошая погода, мы пойдём гулять в парк."]),
    "ja": ("ja", ["きょうはとてもいいてんきです。ごごはこうえんにいきます。"]),
    "ko": ("ko", ["오늘은 날씨가 아주 좋습니다. 오후에 공원에 갑니다."]),
    "el": ("el", ["Σήμερα ο καιρός είναι πολύ καλός. Θα πάμε στη θάλασσα."]),
    "hi": ("hi", ["आज मौसम बहुत अच्छा है। हम शाम को पार्क जाएंगे।"]),
    "ar": ("ar", ["الطقس جميل جدا اليوم. سنذهب إلى الحديقة في المساء."]),
    "vi": ("vi", ["Hôm nay trời rất đẹp. Chúng tôi sẽ đi công viên vào buổi chiều."]),
    "tr": ("tr", ["Bugün hava çok güzel. Öğleden sonra parka gideceğiz."]),
}  # fmt: skip

# ------------------------------------------------------------------------------- normalisation

_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"),
    *("twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
NORMALISATION = (
    "WER normalisation (reference and hypothesis): lowercase; mr/mrs/dr -> mister/missus/doctor; integers as"
    " English words; hyphens split words; other non-letter/digit characters removed (German: lowercase and"
    " punctuation only)."
)


def number_words(n: int) -> str:
    """English words for 0 <= n < 10**9."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_words(head)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def normalise(text: str, english: bool = True) -> list[str]:
    tokens: list[str] = []
    for raw in text.lower().replace("-", " ").split():
        token = re.sub(r"[^\w ]", "", raw).replace("_", "")
        if not token:
            continue
        if english and token.isdigit() and len(token) < 10:
            tokens.extend(number_words(int(token)).split())
        else:
            tokens.extend(_ABBREVIATIONS.get(token, token).split() if english else [token])
    return tokens


def wer(pairs: list[tuple[str, str]], english: bool = True) -> float:
    """Pooled WER: edits summed over all pairs / reference words summed."""
    refs = [" ".join(normalise(r, english)) for r, _ in pairs]
    hyps = [" ".join(normalise(h, english)) for _, h in pairs]
    return float(jiwer.wer(refs, hyps))


# ------------------------------------------------------------------------------- espeak-ng with word timings


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_WORD, _END, _PHONEME = 1, 5, 7
_RETRIEVAL, _PHONEME_EVENTS, _POS_CHARACTER, _CHARS_UTF8 = 1, 1, 1, 1


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float


class Espeak:
    """libespeak-ng in retrieval mode: the samples and the phoneme events of one synthesis."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL("libespeak-ng.so.1")
        self.rate = int(self._lib.espeak_Initialize(_RETRIEVAL, 0, None, _PHONEME_EVENTS))
        self._samples: list[npt.NDArray[np.int16]] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library calls it later
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]) -> int:
        if count > 0:
            self._samples.append(np.ctypeslib.as_array(wav, (count,)).copy())
        index = 0
        while events[index].type != 0:
            ev = events[index]
            name = ev.id.string.decode("ascii", "replace") if ev.type == _PHONEME else ""
            self._events.append((ev.type, ev.text_position, ev.length, ev.sample, name))
            index += 1
        return 0

    def say(self, text: str, voice: str, wpm: int = 160) -> tuple[npt.NDArray[np.int16], list[TimedWord]]:
        self._samples, self._events = [], []
        self._lib.espeak_SetVoiceByName(voice.encode())
        self._lib.espeak_SetParameter(1, wpm, 0)  # espeakRATE
        data = text.encode()
        self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        audio = np.concatenate(self._samples)
        return audio, self._word_times(text, audio.size)

    def _word_times(self, text: str, total: int) -> list[TimedWord]:
        words: list[_Open] = []

        def close(sample: int, upto: int) -> None:
            for word in words[:upto]:
                if word.start is not None and word.end is None:
                    word.end = sample

        for kind, position, length, sample, name in self._events:
            if kind == _WORD:
                words.append(_Open(text[position - 1 : position - 1 + length]))
            elif kind == _PHONEME and words:
                if name.startswith("_"):  # a pause ends whatever word is sounding
                    close(sample, len(words))
                else:  # the first phoneme of a word ends the one before
                    close(sample, len(words) - 1)
                    if words[-1].start is None:
                        words[-1].start = sample
            elif kind == _END:
                close(sample, len(words))
        close(total, len(words))
        return [
            TimedWord(w.text, w.start / self.rate, w.end / self.rate)
            for w in words
            if w.start is not None and w.end is not None
        ]


@dataclass
class _Open:
    """A word being timed: start and end in samples once its phonemes are seen."""

    text: str
    start: int | None = None
    end: int | None = None


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype(np.int16).tobytes())
    return path


# ------------------------------------------------------------------------------- timing


def timing_errors(truth: list[TimedWord], transcript: Transcript) -> tuple[list[float], list[float]]:
    """Absolute start and end errors (s) of the hypothesis words that match reference words."""
    ref = [(tok, w) for w in truth for tok in normalise(w.text)]
    hyp = [(tok, w) for w in transcript.words for tok in normalise(w.text)]
    if not ref or not hyp:
        return [], []
    out = jiwer.process_words(" ".join(t for t, _ in ref), " ".join(t for t, _ in hyp))
    starts: list[float] = []
    ends: list[float] = []
    for chunk in out.alignments[0]:
        if chunk.type != "equal":
            continue
        for offset in range(chunk.ref_end_idx - chunk.ref_start_idx):
            r = ref[chunk.ref_start_idx + offset][1]
            h = hyp[chunk.hyp_start_idx + offset][1]
            starts.append(abs(h.start - r.start))
            ends.append(abs(h.end - r.end))
    return starts, ends


# ------------------------------------------------------------------------------- run


def language_accuracy(inference: Inference, espeak: Espeak, folder: Path) -> None:
    """Each of LANGUAGES' sentences through the router: base's likeliest language against the one
    the router chose (they differ only where base was unsure and a candidate's decode won)."""
    print(f"espeak-ng in {len(LANGUAGES)} languages, {sum(len(t) for _, t in LANGUAGES.values())} sentences")
    likeliest_right = chosen_right = unsure = 0
    seconds: list[float] = []
    unsure_seconds: list[float] = []
    router = inference.speech_router.ref
    decodes_before = stats.count(router, "candidate_decodes")
    for language, (voice, sentences) in LANGUAGES.items():
        for index, sentence in enumerate(sentences):
            samples, _ = espeak.say(sentence, voice)
            start = time.perf_counter()
            transcript = transcribe_file(write_wav(folder / f"{language}{index}.wav", samples, espeak.rate), inference)
            seconds.append(time.perf_counter() - start)
            choices = transcript.route.language_choices if transcript.route else ()
            likeliest = choices[0].identified if choices else transcript.language
            likeliest_right += likeliest == language
            chosen_right += transcript.language == language
            how = ""
            if choices:
                unsure += 1
                unsure_seconds.append(seconds[-1])
                tried = " ".join(f"{c.language}:{c.probability:.2f}/{c.verdict}" for c in choices[0].candidates)
                how = f"unsure ({tried})"
            print(
                f"  {language} likeliest {likeliest:3} chosen {transcript.language:3} {seconds[-1]:5.1f} s"
                f"  {how}  {transcript.text[:40]!r}"
            )
    count = len(seconds)
    decodes = stats.count(router, "candidate_decodes") - decodes_before
    print(
        f"  language right: base's likeliest {likeliest_right}/{count}, chosen {chosen_right}/{count};"
        f" base unsure (under {LANGUAGE_SURE:g}) on {unsure}, {decodes:.0f} candidate decodes"
    )
    print(
        f"  wall seconds: {sum(seconds):.1f} in all, {statistics.mean(seconds):.1f} per sentence;"
        f" {statistics.mean(unsure_seconds) if unsure_seconds else 0.0:.1f} per sentence base was unsure of"
    )


def main() -> None:
    recorded = recordings()
    # The cache off: every file is transcribed.
    inference = Inference(load_settings().model_copy(update={"inference_cache": False}))
    base = inference.speech_router.multilingual
    # Load both models and warm them up before anything is timed.
    base.transcribe(np.zeros(16000, dtype=np.float32), "en")
    inference.speech_router.english.transcribe(np.zeros(16000, dtype=np.float32), "en")
    asr_seconds = 0.0
    audio_seconds = 0.0

    def run(path: Path) -> Transcript:
        nonlocal asr_seconds, audio_seconds
        start = time.perf_counter()
        transcript = transcribe_file(path, inference)
        asr_seconds += time.perf_counter() - start
        audio_seconds += transcript.duration
        return transcript

    lid_count = stats.count(base.ref, LANGUAGE_IDENTIFICATIONS)
    lid_seconds = stats.count(base.ref, LANGUAGE_IDENTIFICATION_SECONDS)
    print(NORMALISATION)
    print()

    # LibriVox
    pairs = []
    print("LibriVox (pocketsphinx-testdata, real recordings)")
    for wav_path, reference in recorded:
        transcript = run(wav_path)
        pair = (reference, transcript.text)
        pairs.append(pair)
        routing = f"{transcript.language} {transcript.model}"
        print(f"  {wav_path.stem[-4:]}  WER {wer([pair]):.3f}  {routing}  {transcript.text!r}")
    per_file = statistics.mean(wer([p]) for p in pairs)
    print(f"  LibriVox WER pooled {wer(pairs):.3f}  mean per file {per_file:.3f}  (target <= 0.06)")
    print()

    espeak = Espeak()
    with tempfile.TemporaryDirectory() as tmp:
        pairs, starts, ends = [], [], []
        routed = set()
        for index, sentence in enumerate(ENGLISH):
            samples, truth = espeak.say(sentence, "en")
            transcript = run(write_wav(Path(tmp) / f"en{index}.wav", samples, espeak.rate))
            routed.add((transcript.language, transcript.model))
            pairs.append((sentence, transcript.text))
            s, e = timing_errors(truth, transcript)
            starts += s
            ends += e
        print("espeak-ng English, 10 sentences (voice en, 160 wpm)")
        for ref, hyp in pairs:
            print(f"  WER {wer([(ref, hyp)]):.3f}  {hyp!r}")
        print(f"  espeak English WER pooled {wer(pairs):.3f}; routed to {sorted(routed)}")
        print(
            f"  word timing error over {len(starts)} matched words: start mean {1000 * statistics.mean(starts):.0f} ms"
            f" (median {1000 * statistics.median(starts):.0f}), end mean {1000 * statistics.mean(ends):.0f} ms"
            f" (median {1000 * statistics.median(ends):.0f})"
        )
        print()

        pairs = []
        print("espeak-ng German, 3 sentences (voice de)")
        for index, sentence in enumerate(GERMAN):
            samples, _ = espeak.say(sentence, "de")
            transcript = run(write_wav(Path(tmp) / f"de{index}.wav", samples, espeak.rate))
            pairs.append((sentence, transcript.text))
            print(
                f"  WER {wer([(sentence, transcript.text)], english=False):.3f}  language {transcript.language}"
                f" (p={transcript.language_probability:.2f})  model {transcript.model}  {transcript.text!r}"
            )
        print(f"  espeak German WER pooled {wer(pairs, english=False):.3f}")
        print()

    lid = stats.count(base.ref, LANGUAGE_IDENTIFICATIONS) - lid_count
    lid_s = stats.count(base.ref, LANGUAGE_IDENTIFICATION_SECONDS) - lid_seconds
    print(
        f"routing cost: language identification {1000 * lid_s / max(lid, 1):.0f} ms per identification"
        f" ({lid:.0f} of them) = {100 * lid_s / asr_seconds:.0f}% of the {asr_seconds:.1f} s"
        f" spent on {audio_seconds:.1f} s of audio (RTF {asr_seconds / audio_seconds:.2f} all included)"
    )
    print()
    with tempfile.TemporaryDirectory() as tmp:
        language_accuracy(inference, espeak, Path(tmp))


if __name__ == "__main__":
    main()
