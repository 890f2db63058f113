"""``mediasift ingest`` on folders as a person's disk holds them: each file once, a loop refused once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mediasift.config import Settings

from support import mediagen


def test_a_folder_with_a_link_back_to_itself_is_ingested_once(settings: Settings, media_dir: Path) -> None:
    library = media_dir / "library"
    (library / "sub").mkdir(parents=True)
    mediagen.make_text_file(library / "near.txt", "Notes on the harbour wall repairs.")
    mediagen.make_text_file(library / "sub" / "far.txt", "Minutes of the lighthouse committee.")
    (library / "sub" / "up").symlink_to(library)  # a loop back to the folder ingested
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    out = subprocess.run([sys.executable, "-m", "mediasift", "ingest", str(library), "--json"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 1, out.stderr  # the loop is refused
    report = json.loads(out.stdout)
    assert sorted(Path(a["path"]).name for a in report["accepted"]) == ["far.txt", "near.txt"]
    assert [(Path(r["path"]).name, "already read" in r["reason"]) for r in report["rejected"]] == [("up", True)]
