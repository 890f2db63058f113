"""Search quality by query class: recall@5 and MRR of keyword, semantic and hybrid search.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/search.py [--distractors 300]

Renders a small library into a temporary folder and ingests it with ``mediasift ingest --wait`` into
a fresh data directory (the whole pipeline, every model as shipped):

* text documents on distinct topics, with names, codes and numbers in them, in English, German,
  French and Spanish;
* spoken recordings (espeak-ng, English) of sentences nothing else says;
* pictures of on-screen text (signs and slides drawn over real photos);
* real photos from scikit-image (a cat, a cup of coffee, an astronaut, a rocket launch, a
  motorcycle), with nothing written on them;
* two short videos of real photos under slow pans, one with speech over it and one with a caption;
* ``--distractors`` English documents of licence prose (``support.textgen``), which every query must
  rank below its answers.

Then each query of the labelled set below is asked in each mode through ``Mediasift.answers`` (one
result per asset, as a person reads them), and scored against the assets it is about: recall@5 (the
share of its relevant assets among the first five) and reciprocal rank of the first relevant one,
averaged per query class. The classes: spoken phrases, on-screen text, labels and objects (words for
what a photo shows, not what is written on it), paraphrases (no word in common with the answer),
exact names and numbers, and other languages (an English query for a foreign-language document, and
a query in the document's own language).

Nothing in search was tuned on this set: the relevance calibration and the fusion were set on the
unit tests' data and ``bench/search.py``'s corpus. The check the eval makes (printed last): in every
class, hybrid's recall@5 and MRR are at least the better of keyword and semantic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.search.answers import Group
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import benchrun, mediagen, scenegen, textgen

MODES = (SearchMode.KEYWORD, SearchMode.SEMANTIC, SearchMode.HYBRID)
CUTOFF = 5
VIDEO_SIZE = (640, 360)

DOCUMENTS = {
    "beekeeping.txt": (
        "Our apiary keeps twelve hives at the edge of the clover field. In late spring the colonies "
        "swarm, and the queen leaves with half of the workers to find a new home. We harvest honey "
        "in August, when the combs are capped with wax."
    ),
    "invoice.txt": (
        "Invoice INV-20931 from Okonkwo Logistics: 48 monocrystalline solar panels delivered to the "
        "Tromsø depot on 14 March. Payment is due within 30 days to account 7730-115."
    ),
    "minutes.txt": (
        "Minutes of the quarterly budget review. Dr. Sakamoto approved 3.2 million euros for the new "
        "Lisbon office and asked the facilities team to sign the lease before the end of June."
    ),
    "sourdough.txt": (
        "Feed the starter the night before baking. Mix the flour and water, rest the dough for an "
        "hour, fold it every thirty minutes, then shape the loaf and bake it in a hot cast-iron pot."
    ),
    "whales.txt": (
        "Humpback whales migrate thousands of kilometres each winter from cold feeding grounds to "
        "warm tropical breeding waters, where the males sing long, complex songs."
    ),
    "bicycle.txt": (
        "To keep a bicycle chain running smoothly, wipe off the grime with a rag, apply one drop of "
        "lubricant to each link, and spin the pedals backwards before wiping away the excess."
    ),
    "comet.txt": (
        "Astronomers at the Kvistaberg observatory photographed the comet's green coma and its long "
        "dust tail three nights before it passed closest to the Sun."
    ),
    "leuchtturm_de.txt": (
        "Der Leuchtturm auf der Insel wurde 1887 aus rotem Backstein gebaut. Sein Licht ist bei "
        "klarem Wetter zwanzig Seemeilen weit zu sehen, und der Wärter wohnte bis 1973 im Turm."
    ),
    "train_fr.txt": (
        "Le train de nuit part de la gare de l'Est à vingt heures et arrive à Vienne le lendemain "
        "matin. Les voyageurs dorment dans des couchettes de six places."
    ),
    "feuerwehr_de.txt": (
        "Die Feuerwehr löschte in der Nacht den Brand in der Scheune am Dorfrand. Zwei Kälber wurden "
        "gerettet, verletzt wurde niemand, und die Ursache ist noch unklar."
    ),
    "olivos_es.txt": (
        "La cosecha de aceitunas empieza en noviembre. Los agricultores extienden redes bajo los "
        "olivos y sacuden las ramas para que caigan los frutos, que se prensan el mismo día."
    ),
}

SPOKEN = {
    "submarine.wav": "The orange submarine surfaced near the northern glacier at dawn.",
    "tomatoes.wav": "Please remember to water the tomato plants in the greenhouse every morning.",
    "flight.wav": "Flight four eight two to Reykjavik is now boarding at gate nine.",
    "museum.wav": "The museum will close early on Friday because of the jazz concert in the garden.",
}

SIGNS = {  # file: (text drawn, photo behind it or None for a plain slide)
    "harbour_sign.png": ("HARBOUR MARKET\nOPEN SUNDAY", "coffee"),
    "exit_sign.png": ("EXIT 24 NORTH\nKIRKWALL", None),
    "sale_slide.png": ("WINTER SALE\n50% OFF BOOTS", "chelsea"),
}

PHOTOS = {  # file: scikit-image photo
    "cat.jpg": "chelsea",
    "coffee.jpg": "coffee",
    "astronaut.jpg": "astronaut",
    "rocket.jpg": "rocket",
}

VIDEOS = {  # file: (photos under pans, spoken sentence or None, caption or None)
    "glacier_clip.mp4": (
        ("hubble_deep_field", "rocket"),
        "Our expedition crossed the glacier on skis in nine days.",
        None,
    ),
    "lighthouse_clip.mp4": (("coffee", "chelsea"), None, "KESTREL BAY FERRY"),
}


@dataclass(frozen=True)
class Query:
    text: str
    kind: str
    relevant: frozenset[str]  # file names


def q(text: str, kind: str, *relevant: str) -> Query:
    return Query(text, kind, frozenset(relevant))


QUERIES = (
    # spoken phrases: words said in a recording (as the transcript has them)
    q("orange submarine", "spoken", "submarine.wav"),
    q("water the tomato plants", "spoken", "tomatoes.wav"),
    q("boarding at gate nine", "spoken", "flight.wav"),
    q("jazz concert in the garden", "spoken", "museum.wav"),
    q("crossed the glacier on skis", "spoken", "glacier_clip.mp4"),
    # on-screen text: words written in a picture or a video
    q("harbour market", "on-screen", "harbour_sign.png"),
    q("exit 24 north", "on-screen", "exit_sign.png"),
    q("winter sale boots", "on-screen", "sale_slide.png"),
    q("kestrel bay ferry", "on-screen", "lighthouse_clip.mp4"),
    # labels and objects: what a photo shows
    q("a cat", "labels", "cat.jpg", "sale_slide.png", "lighthouse_clip.mp4"),
    q("cup of coffee", "labels", "coffee.jpg", "harbour_sign.png", "lighthouse_clip.mp4"),
    q("person", "labels", "astronaut.jpg"),
    q("rocket launch", "labels", "rocket.jpg", "glacier_clip.mp4"),
    # paraphrases: no word shared with the answer
    q("insects that make honey", "paraphrase", "beekeeping.txt"),
    q("how to bake bread", "paraphrase", "sourdough.txt"),
    q("songs of migrating sea mammals", "paraphrase", "whales.txt"),
    q("oiling a bike", "paraphrase", "bicycle.txt"),
    q("an icy comet seen through a telescope", "paraphrase", "comet.txt"),
    q("a yellow submersible near the ice", "paraphrase", "submarine.wav"),
    q("caring for vegetables in a hothouse", "paraphrase", "tomatoes.wav"),
    # exact names and numbers
    q("INV-20931", "names", "invoice.txt"),
    q("Okonkwo", "names", "invoice.txt"),
    q("Sakamoto Lisbon", "names", "minutes.txt"),
    q("Kvistaberg", "names", "comet.txt"),
    q("Reykjavik", "names", "flight.wav"),
    q("7730-115", "names", "invoice.txt"),
    q("Tromsø depot", "names", "invoice.txt"),
    q("Kirkwall", "names", "exit_sign.png"),
    # other languages: an English query for a foreign document, or the document's own words
    q("lighthouse built of red brick", "languages", "leuchtturm_de.txt"),
    q("night train to Vienna", "languages", "train_fr.txt"),
    q("olive harvest", "languages", "olivos_es.txt"),
    q("Leuchtturm Insel", "languages", "leuchtturm_de.txt"),
    q("train de nuit", "languages", "train_fr.txt"),
    q("cosecha de aceitunas", "languages", "olivos_es.txt"),
    q("firefighters saved the calves from a burning barn", "languages", "feuerwehr_de.txt"),
    q("ballenas jorobadas", "languages", "whales.txt"),
)


def caption_over(image: np.ndarray, text: str) -> np.ndarray:
    """``text`` in white on a dark band across the middle of ``image`` (the video generator pans over
    the top four fifths of a picture, so a lower third would be cut off)."""
    height, width = image.shape[:2]
    top, bottom = height * 2 // 5, height * 2 // 5 + height // 7
    out = image.copy()
    out[top:bottom] = (out[top:bottom] * 0.3).astype(np.uint8)
    picture = Image.fromarray(out)
    ImageDraw.Draw(picture).text((width // 2, (top + bottom) // 2), text, fill=(255, 255, 255),
                                 font=mediagen.font(height // 10), anchor="mm")  # fmt: skip
    return np.asarray(picture)


def render(folder: Path, distractors: int) -> list[Path]:
    """Write every file of the library into ``folder``."""
    files = []
    for name, text in DOCUMENTS.items():
        files.append(mediagen.make_text_file(folder / name, text))
    for index, text in enumerate(textgen.prose(distractors, seed=11)):
        files.append(mediagen.make_text_file(folder / f"licence_{index:03}.txt", text))
    for name, text in SPOKEN.items():
        files.append(mediagen.make_speech_wav(folder / name, text))
    for name, (text, background) in SIGNS.items():
        photo = mediagen.photo(background) if background else None
        files.append(mediagen.make_text_image(folder / name, text, size=(960, 540), background=photo))
    for name, photo_name in PHOTOS.items():
        path = folder / name
        Image.fromarray(mediagen.photo(photo_name)).save(path, quality=90)
        files.append(path)
    for name, (photos, spoken, caption) in VIDEOS.items():
        scenes = [scenegen.cover(mediagen.photo(p), VIDEO_SIZE) for p in photos]
        if caption:
            scenes = [caption_over(scene, caption) for scene in scenes]
        wav = mediagen.make_speech_wav(folder / f"{name}.wav", spoken) if spoken else None
        files.append(mediagen.make_video(folder / name, 8.0, size=VIDEO_SIZE, scenes=scenes, scene_seconds=4.0,
                                         audio_wav=wav))  # fmt: skip
    return files


def file_name(source: str) -> str:
    return source.rsplit("/", 1)[-1].removeprefix("file:")


@dataclass
class Scores:
    recall: list[float]
    rr: list[float]

    def mean(self) -> tuple[float, float]:
        return sum(self.recall) / len(self.recall), sum(self.rr) / len(self.rr)


def score(system: Mediasift, names: dict[str, str]) -> dict[tuple[str, SearchMode], Scores]:
    """Each query in each mode: recall@CUTOFF and reciprocal rank, by (class, mode)."""
    out: dict[tuple[str, SearchMode], Scores] = defaultdict(lambda: Scores([], []))
    for query in QUERIES:
        for mode in MODES:
            found = system.answers(query.text, group=Group.ASSET, limit=10, mode=mode)
            ranked = [names.get(str(result.asset_id), "?") for result in found.results]
            top = set(ranked[:CUTOFF])
            first = next((rank for rank, name in enumerate(ranked, 1) if name in query.relevant), None)
            scores = out[(query.kind, mode)]
            scores.recall.append(len(top & query.relevant) / min(len(query.relevant), CUTOFF))
            scores.rr.append(1 / first if first else 0.0)
            print(f"  {mode.value:8} {query.text!r:42} -> {', '.join(ranked[:CUTOFF]) or '(nothing)'}")
    return out


def report(scores: dict[tuple[str, SearchMode], Scores]) -> bool:
    """Print the table; whether hybrid is at least the better side in every class."""
    kinds = list(dict.fromkeys(query.kind for query in QUERIES))
    header = " ".join(f"{mode.value + ' R@5/MRR':>18}" for mode in MODES)
    print(f"\n{'class':12} {'queries':>7} {header}  hybrid >= best side")
    holds = True
    for kind in [*kinds, "all"]:
        chosen = kinds if kind == "all" else [kind]
        means = {}
        for mode in MODES:
            merged = Scores([], [])
            for k in chosen:
                merged.recall += scores[(k, mode)].recall
                merged.rr += scores[(k, mode)].rr
            means[mode] = merged.mean()
        count = sum(1 for query in QUERIES if query.kind in chosen)
        best = [max(means[SearchMode.KEYWORD][i], means[SearchMode.SEMANTIC][i]) for i in (0, 1)]
        ok = all(means[SearchMode.HYBRID][i] >= best[i] - 1e-9 for i in (0, 1))
        holds = holds and ok
        cells = " ".join(f"{means[mode][0]:9.2f} / {means[mode][1]:.2f}" for mode in MODES)
        print(f"{kind:12} {count:7} {cells}  {'yes' if ok else 'NO'}")
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distractors", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediasift-eval-search-") as work, benchrun.server() as pg:
        files = render(Path(work), args.distractors)
        print(f"ingesting {len(files)} files ...")
        done = benchrun.ingest(files, pg)
        print(f"ingested in {done.wall_s:.1f} s")
        names = {str(asset): file_name(paths[0]) for asset, paths in done.sources.items() if paths}
        system = Mediasift(Settings(home=done.home, database_url=done.database_url))
        try:
            holds = report(score(system, names))
        finally:
            system.close()
    print("\nhybrid at least as good as the better side in every class:", "yes" if holds else "NO")


if __name__ == "__main__":
    main()
