"""Text in pictures with Tesseract 5 (the Debian ``tesseract`` program and its English LSTM model):
the fallback when rapidocr fails. Words with boxes and confidences come from its TSV output and are
grouped into lines, so callers get the same ``OcrLine`` list rapidocr gives.

Tesseract reads dark text on a light page well and text over busy photos or in outlined captions
poorly, which is why it is the fallback and not the primary. Each picture is one run of the program:
a hung or slow run is killed at the timeout instead of being left behind.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
from mediasift.models.ocr import OcrLine, reading_order
from mediasift.models.weights import ModelWeightsMissing, as_rgb_uint8

INSTALL_HINT = "install the Debian packages tesseract-ocr and tesseract-ocr-eng (scripts/install-system-deps does)"

# Where Debian and a source build keep the language models.
_TESSDATA_GLOBS = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata")

# TSV columns (tesseract 4 and 5): level page_num block_num par_num line_num word_num left top width
# height conf text. Level 5 rows are words; their conf is 0-100.
_WORD_LEVEL = "5"
_COLUMNS = 12


def find_traineddata(language: str = "eng") -> Path:
    """``<language>.traineddata``, from the usual system folders (newest tesseract first)."""
    folders = sorted((p for pattern in _TESSDATA_GLOBS for p in glob.glob(pattern)), reverse=True)
    for folder in folders:
        path = Path(folder) / f"{language}.traineddata"
        if path.is_file():
            return path
    raise ModelWeightsMissing(f"no {language}.traineddata for tesseract in {folders or list(_TESSDATA_GLOBS)}; "
                              f"{INSTALL_HINT}")  # fmt: skip


def weight_files(language: str = "eng") -> list[Path]:
    """The ``tesseract`` program and its language model."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise ModelWeightsMissing(f"the tesseract program is not installed; {INSTALL_HINT}")
    return [Path(binary), find_traineddata(language)]


def parse_tsv(tsv: str) -> list[OcrLine]:
    """Tesseract's TSV words grouped by (page, block, paragraph, line) into lines: the words' text
    joined by spaces, the hull of their boxes, their mean confidence scaled to 0-1."""
    grouped: dict[tuple[str, ...], list[tuple[str, float, int, int, int, int]]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t", _COLUMNS - 1)
        if len(fields) != _COLUMNS or fields[0] != _WORD_LEVEL or not fields[11].strip():
            continue
        left, top, width, height = (int(v) for v in fields[6:10])
        word = (fields[11].strip(), float(fields[10]), left, top, left + width, top + height)
        grouped.setdefault(tuple(fields[1:5]), []).append(word)
    lines = []
    for words in grouped.values():
        confidence = min(max(sum(w[1] for w in words) / len(words) / 100.0, 0.0), 1.0)
        left, top = min(w[2] for w in words), min(w[3] for w in words)
        right, bottom = max(w[4] for w in words), max(w[5] for w in words)
        lines.append(OcrLine(" ".join(w[0] for w in words), confidence, (left, top, right - left, bottom - top)))
    return reading_order(lines)


class TesseractReader:
    """One ``tesseract`` run per picture: PNG on stdin, TSV on stdout, automatic page segmentation.
    On eval/vision.py's 40 pictures of text over photos it reads almost nothing (CER 87 % on the
    lines at 0.5 confidence or more, rapidocr 3 %); on plain backgrounds it reads exactly. Sparse-text
    mode (``--psm 11``) read more over photos (CER 71 %) but gives every word a block of its own.

    ``threads`` caps its OpenMP threads (``OMP_THREAD_LIMIT``): on small pictures one thread is as
    fast as several, and parallel jobs do not fight over cores. Errors are not counted here: the
    fallback chain that calls this reader counts them, timeouts included.
    """

    ref = ModelRef("tesseract-lstm-eng", "tesseract-5+eng.traineddata")

    def __init__(self, binary: Path, traineddata: Path, timeout_s: float = 60.0, threads: int = 1) -> None:
        self.binary = binary
        self.traineddata = traineddata
        self.timeout_s = timeout_s
        self.threads = threads

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """The text lines of an RGB uint8 picture, in reading order."""
        rgb = as_rgb_uint8(image)
        ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise ValueError("the picture could not be encoded for tesseract")
        command = [
            str(self.binary), "stdin", "stdout",
            "--tessdata-dir", str(self.traineddata.parent), "-l", self.traineddata.stem,
            "--psm", "3", "tsv",
        ]  # fmt: skip
        try:
            # The model's folder is given on the command line, so the program needs no environment
            # but its thread limit.
            done = subprocess.run(
                command, input=png.tobytes(), capture_output=True, timeout=self.timeout_s, check=False,
                env={"OMP_THREAD_LIMIT": str(self.threads)},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"tesseract gave no answer within {self.timeout_s:g} s (killed)") from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"tesseract exited with status {done.returncode}: {detail}")
        return parse_tsv(done.stdout.decode("utf-8", errors="replace"))

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[list[OcrLine]]:
        """:meth:`read` of each picture."""
        return [self.read(image) for image in images]


def load(settings: Settings) -> TesseractReader:
    binary, traineddata = weight_files()
    return TesseractReader(binary, traineddata, timeout_s=settings.ocr_timeout_s)
