"""Import this first in every script here (``import benchpath``): it takes this folder off the import
path, where ``bench/queue.py`` would hide the standard library's ``queue`` from everything imported
after it, and puts ``tests/`` on it for the media generators and server helpers."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.append(str(ROOT / "tests"))
