"""The Python API's own behaviour: progress while it waits, the workers it runs (registered, so
other callers see them), and what ``reprocess`` says when a worker with other settings ran the work."""

from __future__ import annotations

import os
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.ingest.service import Accepted, Refused
from mediasift.service import IngestReport, Mediasift
from mediasift.service_models import Lane

from support import mediagen

NOTES = ["The ferry to the island leaves at noon.", "The lighthouse keeper logged a storm at midnight."]


def test_ingest_waits_with_progress_and_its_inline_worker_is_seen(settings: Settings, media_dir: Path) -> None:
    for index, text in enumerate(NOTES):
        mediagen.make_text_file(media_dir / f"note{index}.txt", text)
    # Each note takes a plugin's 1.5 s, so the progress, polled twice a second, is heard while it works.
    with closing(Mediasift(settings.model_copy(update={"operator_plugins": "support.plugins:Pause"}))) as system:
        progress: list[tuple[int, int]] = []
        workers: list[list[str]] = []

        def on_progress(done: int, total: int) -> None:
            progress.append((done, total))
            workers.append([w.id for w in system.workers_alive()])

        report = system.ingest([media_dir], wait=True, on_progress=on_progress)
        assert not report.failed and {s.status for s in report.status.values()} == {"done"}
        assert progress[0] == (0, 2) and progress[-1] == (2, 2), "heard at the start and at the end"
        assert [done for done, _ in progress] == sorted(done for done, _ in progress)
        seen = [w for ids in workers for w in ids]
        assert seen and all(w.startswith("inline-") for w in seen), "status showed the worker doing it"
        # The worker ends on its own once the last note is analysed, before the wait returns: it is not
        # left to wait out an idle fetch until the wait stops it.
        assert workers[-1] == [], "gone by the last progress report"
        assert system.workers_alive() == [], "and it was marked stopped"


def test_an_ingest_that_waits_analyses_the_first_files_while_it_registers_the_rest(
    settings: Settings, media_dir: Path
) -> None:
    """With no worker running, the first note is analysed before the second is registered: the
    registration of the second waits (on_file) until the first is done, which only a worker running
    meanwhile can make happen."""
    for index, text in enumerate(NOTES):
        mediagen.make_text_file(media_dir / f"note{index}.txt", text)
    with closing(Mediasift(settings)) as system:
        done_before_next: list[bool] = []
        messages: list[str] = []

        def on_file(path: Path, outcome: Accepted | Refused) -> None:
            if not done_before_next and isinstance(outcome, Accepted):
                first = IngestReport(accepted=[outcome])
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not system.analysed(first):
                    time.sleep(0.1)
                done_before_next.append(first.status.get(outcome.asset_id) is not None
                                        and first.status[outcome.asset_id].status == "done")  # fmt: skip

        report = system.ingest([media_dir], wait=True, on_file=on_file, on_wait=messages.append)
        assert done_before_next == [True], "the first note was analysed while the second waited to be registered"
        assert {s.status for s in report.status.values()} == {"done"} and len(report.accepted) == 2
        assert messages == ["no worker running takes all of this work: analysing here"]
        assert system.workers_alive() == [], "the worker that ran meanwhile was marked stopped"


def test_a_registration_that_fails_stops_the_worker_running_meanwhile(settings: Settings, media_dir: Path) -> None:
    for index, text in enumerate(NOTES):
        mediagen.make_text_file(media_dir / f"note{index}.txt", text)

    def on_file(path: Path, outcome: Accepted | Refused) -> None:
        raise KeyboardInterrupt

    with closing(Mediasift(settings)) as system:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            system.ingest([media_dir], wait=True, on_file=on_file)
        assert system.workers_alive() == [] and time.monotonic() - started < 30


@pytest.mark.slow
def test_reprocess_waits_and_says_what_a_worker_with_other_settings_left_stale(
    settings: Settings, media_dir: Path
) -> None:
    mediagen.make_text_file(media_dir / "note.txt", NOTES[0])
    with closing(Mediasift(settings)) as system, closing(Mediasift(settings)) as workers:
        system.ingest([media_dir], wait=True)
        worker = workers.worker(concurrency=1)
        running = threading.Thread(target=workers.run_worker, args=(worker,))
        running.start()
        try:
            other = settings.model_copy(update={"text_embedding_tier": "wordllama"})
            with closing(Mediasift(other)) as reprocessing:
                done = reprocessing.reprocess(operator="embed_text", wait=True)
        finally:
            worker.stop()
            running.join(timeout=60)
        (asset_id,) = done.assets
        assert done.queued == {"embed_text": 1} and done.failed == []
        assert done.still_stale == {"embed_text": 1}, "the worker ran it with the minilm tier"
        assert worker.stats.processed == 1, "the worker did it, not the reprocessing process"
        assert system.stale() == {}, "fresh by the worker's settings, which are these"
        assert system.describe(asset_id).operators["embed_text"].status == "done"


def test_an_ingest_that_waits_does_the_work_no_running_worker_takes(settings: Settings, media_dir: Path) -> None:
    """A worker of OCR alone, or of the batch lane alone, is alive: a note's jobs (interactive) are no
    work of its, so the waiting ingest does them (it waited without end), and the OCR worker does not
    even claim them (the PostgreSQL broker claims by operator). A worker of every operator and lane
    takes them: the ingest leaves them to it."""
    with closing(Mediasift(settings)) as system, closing(Mediasift(settings)) as workers:
        ocr_only = workers.worker(concurrency=1, operators={"ocr"})
        cases = ((ocr_only, False), (workers.worker(concurrency=1, lanes=(Lane.BATCH,)), False),
                 (workers.worker(concurrency=1), True))  # fmt: skip
        for case, (worker, by_the_worker) in enumerate(cases):
            note = mediagen.make_text_file(media_dir / f"note{case}.txt", f"{NOTES[0]} Note {case}.")
            running = threading.Thread(target=workers.run_worker, args=(worker,))
            running.start()
            try:
                while worker.id not in {w.id for w in system.workers_alive()}:
                    time.sleep(0.05)
                (info,) = [w for w in system.workers_alive() if w.id == worker.id]
                assert info.operators == (["ocr"] if worker is ocr_only else None)
                assert system.workers_take_everything() is by_the_worker
                messages: list[str] = []
                waiting = threading.Thread(
                    target=system.ingest, args=([note],), kwargs={"wait": True, "on_wait": messages.append}
                )
                waiting.start()
                waiting.join(timeout=120)
                assert not waiting.is_alive(), "the ingest still waits"
            finally:
                worker.stop()
                running.join(timeout=60)
            assert (worker.stats.processed > 0) is by_the_worker and (messages == []) is by_the_worker, messages


def test_a_file_named_in_another_encoding_is_registered_under_its_escaped_name(
    settings: Settings, media_dir: Path
) -> None:
    """A name whose bytes are not UTF-8 (Latin-1 "café" and a stray 0xff) could not be recorded: the
    ingest stopped there with a traceback, and the files after it were never looked at."""
    odd = Path(os.fsdecode(bytes(media_dir) + b"/caf\xe9_\xff.txt"))
    odd.write_text("The ferry to the island leaves at noon.")
    mediagen.make_text_file(media_dir / "zz_after.txt", NOTES[1])
    with closing(Mediasift(settings)) as system:
        report = system.ingest([media_dir], wait=True)
        assert sorted(Path(a.path).name for a in report.accepted) == ["caf\\xe9_\\xff.txt", "zz_after.txt"]
        assert not report.refused and all(s.status == "done" for s in report.status.values())
        again = system.ingest([media_dir], wait=True)
        assert [a.duplicate for a in again.accepted] == [True, True]


def test_bytes_stored_for_a_registration_that_fails_are_removed(
    settings: Settings, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = mediagen.make_text_file(media_dir / "note.txt", NOTES[0])
    with closing(Mediasift(settings)) as system:

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(asset_repo, "register_asset", broken)
        with pytest.raises(RuntimeError):
            system.ingest([note])
        assert not [p for p in (settings.home / "blobs").rglob("*") if p.is_file()], "no bytes left behind"


def test_links_to_folders_are_followed_each_read_once_a_loop_said(settings: Settings, media_dir: Path) -> None:
    elsewhere = media_dir.parent / "other-disk"
    elsewhere.mkdir()
    mediagen.make_text_file(elsewhere / "far.txt", NOTES[0])
    library = media_dir / "library"
    library.mkdir()
    mediagen.make_text_file(library / "near.txt", NOTES[1])
    (library / "disk").symlink_to(elsewhere)  # a link to a folder outside: followed
    (library / "again").symlink_to(elsewhere)  # a second link to it: read once
    (library / "up").symlink_to(library)  # a loop
    (library / ".git").mkdir()  # hidden: left out, with what it holds
    mediagen.make_text_file(library / ".git" / "notes.txt", "A hidden note about the harbour.")
    mediagen.make_text_file(library / ".DS_Store", "Finder settings, not a document.")
    with closing(Mediasift(settings)) as system:
        report = system.ingest([library])
    assert sorted(Path(a.path).name for a in report.accepted) == ["far.txt", "near.txt"]
    # folders are read in name order: "again" first, so "disk" is the second route to the same folder
    assert sorted(Path(r.path).name for r in report.refused) == ["disk", "up"]
    assert all("already read through another path" in r.reason for r in report.refused)


def test_a_link_to_nothing_is_refused_as_such_and_the_rest_is_registered(settings: Settings, media_dir: Path) -> None:
    (media_dir / "loop.txt").symlink_to(media_dir / "loop.txt")
    (media_dir / "gone.txt").symlink_to(media_dir / "missing.txt")
    mediagen.make_text_file(media_dir / "note.txt", NOTES[0])
    with closing(Mediasift(settings)) as system:
        report = system.ingest([media_dir])
        absent = system.ingest([media_dir / "absent.txt"])
    assert absent.refused[0].reason == "no such file"
    assert [Path(a.path).name for a in report.accepted] == ["note.txt"]
    assert sorted((Path(r.path).name, "symbolic link to nothing" in r.reason) for r in report.refused) == [
        ("gone.txt", True),
        ("loop.txt", True),
    ]
