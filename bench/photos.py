"""Photos a second through the whole pipeline, and what each operator's share of the time is.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/photos.py [--count 60] [--width 1600] [--seed N] [FOLDER]

Makes (once, cached in /tmp) ``--count`` distinct JPEG photos ``--width`` pixels wide from the
photos bundled with scikit-image (``support.benchmedia``: a random crop of a random photo, graded and
scaled up, so no two share pixels and no cache helps), a caption banner on every third; ingests them
all with ``mediasift ingest DIR --wait`` in a fresh process, data directory and database (model
loading included, as a user sees it), and prints photos a second, CPU seconds a photo, each
operator's core time from lineage (``operator_runs.core_ms``: its share of the cores, the worker
computing more jobs than there are cores) per photo and as a share of all operators' time,
and whether OCR read every caption (and what text it reported on the photos without one). With
FOLDER, its photos are ingested instead (every file in it; their captions are not known, so OCR's
text is counted, not checked). The
baselines in the same run: registration alone (``ingest`` without ``--wait``: probe, hash, store),
and the floor, decoding every photo in full on one thread (before and after the ingest, their mean):
the ingest's ratio to it moves less with the machine's phases than its seconds do.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import os
import subprocess
import time
from difflib import SequenceMatcher
from pathlib import Path
from uuid import UUID

from support import benchmedia, benchrun


def register_only(folder: Path, pg: benchrun.Server) -> float:
    """Seconds of ``mediasift ingest DIR`` without ``--wait``: the floor of any ingest."""
    home = pg.folder / f"register{pg.made + 1}"
    env = {**os.environ, "MEDIASIFT_HOME": str(home), "MEDIASIFT_DATABASE_URL": pg.fresh_database(),
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    start = time.perf_counter()
    subprocess.run([*benchrun.MEDIASIFT, "ingest", str(folder), "--json"], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def decode_floor(folder: Path) -> float:
    """Seconds to decode every photo of ``folder`` in full (Pillow, one thread, as the image operators
    decode them once): a floor that a busy or slow phase of the machine slows as it slows the ingest."""
    from PIL import Image, UnidentifiedImageError

    start = time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            with Image.open(path) as image:
                image.convert("RGB")  # decodes every pixel
        except (UnidentifiedImageError, OSError):
            continue  # not a picture Pillow reads: the ingest refuses it or reads it otherwise
    return time.perf_counter() - start


def read_captions(run: benchrun.Ingested, captions: dict[str, str]) -> None:
    """Whether OCR read each caption (80 % of its characters alike), and the text on the others."""
    read: dict[str, str] = {}
    for asset, artifacts in run.artifacts.items():
        name = _name(run, asset)
        read[name] = " ".join(art.text or "" for art in artifacts if art.operator == "ocr" and art.kind == "ocr")
    missed = [name for name, text in captions.items() if not _reads(read.get(name, ""), text)]
    others = {name: text for name, text in read.items() if name not in captions and text.strip()}
    print(
        f"\ncaptions read: {len(captions) - len(missed)}/{len(captions)}" + (f" (missed: {missed})" if missed else "")
    )
    print(f"photos without a caption on which OCR reported text: {len(others)}")


def _reads(found: str, caption: str) -> bool:
    found, caption = found.casefold(), caption.casefold()
    if caption in found:
        return True
    match = SequenceMatcher(None, found, caption, autojunk=False)
    return sum(block.size for block in match.get_matching_blocks()) >= 0.8 * len(caption)


def _name(run: benchrun.Ingested, asset: UUID) -> str:
    sources = run.sources.get(asset, [])
    return Path(sources[0]).name if sources else str(asset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("folder", nargs="?", type=Path, help="ingest the photos of this folder instead")
    args = parser.parse_args()
    if args.folder is not None:
        folder, captions = args.folder, {}
    else:
        folder, captions = benchmedia.photos(args.count, args.seed, args.width)
    with benchrun.server() as pg:
        register_s = register_only(folder, pg)
        before = decode_floor(folder)
        run = benchrun.ingest([folder], pg)
        floor = (before + decode_floor(folder)) / 2
    count = len(run.assets)
    described = f"{args.width} px wide, {len(captions)} with a caption" if args.folder is None else f"from {folder}"
    print(f"\n{count} photos {described}")
    print(f"{'decoding every photo (floor)':40} {floor:7.2f} s")
    print(f"{'registration only (ingest, no --wait)':40} {register_s:7.2f} s")
    print(f"{'mediasift ingest --wait':40} {run.wall_s:7.2f} s  {count / run.wall_s:5.2f} photos/s, "
          f"{run.wall_s / count:.2f} s a photo, CPU {run.cpu_s / count:.2f} s a photo, "
          f"{run.wall_s / floor:.1f}x the floor")  # fmt: skip
    benchrun.print_operators(run.operator_seconds(), run.wall_s, count, "photo")
    if args.folder is None:
        read_captions(run, captions)
    else:
        texts = sum(
            1
            for artifacts in run.artifacts.values()
            if any(a.operator == "ocr" and (a.text or "").strip() for a in artifacts)
        )
        print(f"\nphotos on which OCR read text: {texts} of {count}")


if __name__ == "__main__":
    main()
