"""Show that the tests hold every user-facing threshold: move each one by 20% and see a test fail.

Usage, from the repository root (one command; ``--only NAME`` picks rows, ``--list`` shows them)::

    nice -n 19 .venv/bin/python scripts/mutate_thresholds.py

For each threshold below (a module constant, or a ``Settings`` field's default) and each factor
(x0.8, x1.2), the script copies ``src/mediasift`` into a temporary folder, rewrites that one value
there (an integer is rounded: 10 bits become 8 and 12), and runs the tests that guard it with pytest,
the copy first on ``PYTHONPATH`` (so the editable install's own source is not used; the script checks
which copy the tests import). It prints a table ``threshold | mutation | failing test(s)`` and exits
1 when a mutation fails no test (a threshold the tests do not hold), 0 otherwise. The working tree is
never changed. A full run takes a while (some 50 pytest runs, most of them on a real database or real
models).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACTORS = (0.8, 1.2)


@dataclass(frozen=True)
class Threshold:
    name: str  # as the table shows it
    file: str  # under src/mediasift
    pattern: str  # a regex whose one group is the value, matched once in the file
    tests: tuple[str, ...]  # pytest arguments: files, node ids, -k/-m expressions


def _constant(name: str) -> str:
    return rf"^{name} = (-?[0-9.]+)"


def _setting(name: str) -> str:
    return rf"^    {name}: (?:float|int) = (-?[0-9._]+)"


SIMILAR = "tests/search/test_similar.py"
GATE = (
    "tests/media/test_text_gate.py",
    "-k",
    "40_pixels or 2_5_times or 8_to_80 or 150_grey or dense_with or fills_its or 0_75",
)
DRIFT = ("tests/obs/test_quality.py", "-m", "not slow")

THRESHOLDS = (
    Threshold("search/similar.py FEATURES_NEAR", "search/similar.py", _constant("FEATURES_NEAR"),
              (SIMILAR, "-k", "0_92")),
    Threshold("search/similar.py PHASH_NEAR", "search/similar.py", _constant("PHASH_NEAR"), (SIMILAR, "-k", "0_92")),
    Threshold("search/similar.py TEXT_NEAR", "search/similar.py", _constant("TEXT_NEAR"), (SIMILAR, "-k", "0_97")),
    Threshold("search/semantic.py TEXT_FUSION_FLOOR", "search/semantic.py", _constant("TEXT_FUSION_FLOOR"),
              ("tests/search/test_semantic.py",)),
    Threshold("operators/faces.py MIN_CONFIDENCE", "operators/faces.py", _constant("MIN_CONFIDENCE"),
              ("tests/operators/test_faces.py",)),
    Threshold("operators/faces.py STORE_MIN_CONFIDENCE", "operators/faces.py", _constant("STORE_MIN_CONFIDENCE"),
              ("tests/operators/test_faces.py",)),
    Threshold("Settings.object_min_confidence", "config.py", _setting("object_min_confidence"),
              ("tests/operators/test_objects.py",)),
    Threshold("Settings.label_min_confidence", "config.py", _setting("label_min_confidence"),
              ("tests/operators/test_labels.py",)),
    Threshold("Settings.ocr_min_confidence", "config.py", _setting("ocr_min_confidence"),
              ("tests/operators/test_ocr.py",)),
    Threshold("operators/clip.py MIN_TAG_PROBABILITY", "operators/clip.py", _constant("MIN_TAG_PROBABILITY"),
              ("tests/operators/test_clip.py",)),
    Threshold("Settings.speech_escalate_logprob", "config.py", _setting("speech_escalate_logprob"),
              ("tests/inference/test_speech_routing.py", "-k", "minus_0_7")),
    Threshold("Settings.language_fast_min_confidence", "config.py", _setting("language_fast_min_confidence"),
              ("tests/inference/test_language_routing.py", "-k", "fast_mode")),
    Threshold("media/text_gate.py STROKE_CONTRAST", "media/text_gate.py", _constant("STROKE_CONTRAST"), GATE),
    Threshold("media/text_gate.py MIN_HEIGHT", "media/text_gate.py", r"^MIN_HEIGHT, MAX_HEIGHT = ([0-9]+), ",
              GATE),
    Threshold("media/text_gate.py MAX_HEIGHT", "media/text_gate.py", r"^MIN_HEIGHT, MAX_HEIGHT = [0-9]+, ([0-9]+)",
              GATE),
    Threshold("media/text_gate.py MIN_WIDTH", "media/text_gate.py", _constant("MIN_WIDTH"), GATE),
    Threshold("media/text_gate.py MIN_ASPECT", "media/text_gate.py", _constant("MIN_ASPECT"), GATE),
    Threshold("media/text_gate.py MIN_EDGES", "media/text_gate.py", _constant("MIN_EDGES"), GATE),
    Threshold("media/text_gate.py MIN_SOLIDITY", "media/text_gate.py", _constant("MIN_SOLIDITY"), GATE),
    Threshold("media/text_gate.py SAME_STROKES", "media/text_gate.py", _constant("SAME_STROKES"), GATE),
    Threshold("Settings.drift_window_h", "config.py", _setting("drift_window_h"), DRIFT),
    Threshold("Settings.drift_baseline_days", "config.py", _setting("drift_baseline_days"), DRIFT),
    Threshold("Settings.drift_min_items", "config.py", _setting("drift_min_items"), DRIFT),
    Threshold("obs/quality.py SHIFT_PSI", "obs/quality.py", _constant("SHIFT_PSI"), DRIFT),
)  # fmt: skip


def mutated_value(text: str, factor: float) -> str:
    """``text`` (a number as written in the source) times ``factor``, written back the same way."""
    if re.fullmatch(r"-?[0-9_]+", text):
        return str(round(int(text.replace("_", "")) * factor))
    return repr(round(float(text) * factor, 6))


def mutate(source: Path, threshold: Threshold, factor: float) -> tuple[str, str]:
    """Rewrite the threshold in the copy under ``source``; (old, new) as written."""
    path = source / "mediasift" / threshold.file
    text = path.read_text()
    matches = list(re.finditer(threshold.pattern, text, flags=re.MULTILINE))
    if len(matches) != 1:
        raise SystemExit(f"{threshold.name}: {len(matches)} matches of {threshold.pattern!r} in {threshold.file}")
    match = matches[0]
    old = match.group(1)
    new = mutated_value(old, factor)
    path.write_text(text[: match.start(1)] + new + text[match.end(1) :])
    return old, new


def run_tests(source: Path, tests: tuple[str, ...]) -> tuple[int, list[str], str]:
    """pytest on ``tests`` with ``source`` first on the path: exit status, failing test ids, output tail."""
    env = dict(os.environ, PYTHONPATH=str(source), HF_HUB_OFFLINE="1")
    where = subprocess.run(
        [sys.executable, "-c", "import mediasift; print(mediasift.__file__)"],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    if not where.stdout.strip().startswith(str(source)):
        raise SystemExit(f"the tests would import mediasift from {where.stdout.strip()}, not the mutated copy")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *tests],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    failing = sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, flags=re.MULTILINE)))
    return done.returncode, failing, done.stdout[-2000:] + done.stderr[-2000:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="rows whose name contains this (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the thresholds and their tests, run nothing")
    args = parser.parse_args()
    chosen = [t for t in THRESHOLDS if not args.only or any(part in t.name for part in args.only)]
    if args.list:
        for threshold in chosen:
            print(f"{threshold.name}: {' '.join(threshold.tests)}")
        return 0
    rows: list[tuple[str, str, str]] = []
    survived = 0
    for threshold in chosen:
        for factor in FACTORS:
            with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
                source = Path(tmp) / "src"
                shutil.copytree(ROOT / "src" / "mediasift", source / "mediasift")
                old, new = mutate(source, threshold, factor)
                status, failing, tail = run_tests(source, threshold.tests)
            if status == 0 or not failing:
                survived += 1
                shown = "NONE: the mutation survived" if status == 0 else f"pytest exit {status}, no test failed"
                if status != 0:
                    print(tail, file=sys.stderr)
            else:
                shown = ", ".join(test.split("/")[-1] for test in failing)
            rows.append((threshold.name, f"x{factor} ({old} -> {new})", shown))
            print(f"{rows[-1][0]} | {rows[-1][1]} | {rows[-1][2]}", file=sys.stderr, flush=True)
    widths = [max(len(row[i]) for row in [("threshold", "mutation", "failing test(s)"), *rows]) for i in range(2)]
    print(f"{'threshold':<{widths[0]}} | {'mutation':<{widths[1]}} | failing test(s)")
    print(f"{'-' * widths[0]}-|-{'-' * widths[1]}-|-{'-' * 15}")
    for name, mutation, shown in rows:
        print(f"{name:<{widths[0]}} | {mutation:<{widths[1]}} | {shown}")
    print(f"\n{len(rows) - survived} of {len(rows)} mutations failed at least one test")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
