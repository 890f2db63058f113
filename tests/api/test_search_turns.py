"""Every search door takes its turn at one gate: the API's search by text, by picture, similar and
duplicates, and the web UI's search page all wait while the gate's one slot is held, and go on when
it is given back."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mediasift.api.admission import HALF, WHOLE, FifoAdmission, SearchesBusy, share
from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import mediagen
from support.apikeys import bearer, make_keys
from support.uisession import sign_in

pytestmark = pytest.mark.slow


def _picture() -> bytes:
    out = io.BytesIO()
    Image.fromarray(mediagen.photo("coffee")).resize((320, 240)).save(out, "JPEG")
    return out.getvalue()


def test_each_search_door_waits_while_the_gate_is_full(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"api_search_concurrency": 1})
    keys = make_keys(settings)
    system = Mediasift(settings)
    report = system.ingest([mediagen.make_text_file(tmp_path / "a.txt", "the harbour pier at noon")],
                           wait=True, tenant="alpha")  # fmt: skip
    system.close()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.read)
        api = {"headers": bearer(keys.read)}
        asset = report.accepted[0].asset_id
        doors: dict[str, Callable[[], httpx.Response]] = {
            "search": lambda: client.get("/v1/search", params={"q": "pier"}, **api),
            "by-image": lambda: client.post("/v1/search/by-image", content=_picture(), **api),
            "similar": lambda: client.get(f"/v1/assets/{asset}/similar", **api),
            "duplicates": lambda: client.get("/v1/duplicates", **api),
            "ui": lambda: client.get("/", params={"q": "pier"}),
        }
        gate = client.app.state.searches  # type: ignore[attr-defined]
        for name, door in doors.items():
            answered = threading.Event()
            statuses: list[int] = []

            def ask(
                door: Callable[[], httpx.Response] = door,
                answered: threading.Event = answered,
                statuses: list[int] = statuses,
            ) -> None:
                statuses.append(door().status_code)
                answered.set()

            with gate.admitted():
                asker = threading.Thread(target=ask)
                asker.start()
                assert not answered.wait(0.5), f"{name} did not wait for the gate"
            assert answered.wait(30), f"{name} did not go on once the gate was free"
            asker.join()
            assert statuses == [200], name


def test_a_search_that_waits_past_its_limit_gets_503_and_the_gate_stays_whole(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"api_search_concurrency": 1, "api_search_wait_s": 0.5})
    keys = make_keys(settings)
    system = Mediasift(settings)
    system.ingest([mediagen.make_text_file(tmp_path / "a.txt", "the harbour pier at noon")], wait=True, tenant="alpha")
    system.close()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.read)
        api = {"headers": bearer(keys.read)}
        gate = client.app.state.searches  # type: ignore[attr-defined]
        with gate.admitted():
            refused = client.get("/v1/search", params={"q": "pier"}, **api)
            page = client.get("/", params={"q": "pier"})
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        assert "busy" in refused.json()["detail"]
        assert page.status_code == 503 and "search server is busy" in page.text
        # The refused waiters left the queue: the freed slot goes to the next search at once.
        answered = client.get("/v1/search", params={"q": "pier"}, **api)
        assert answered.status_code == 200 and answered.json()["results"]


def test_a_wait_under_the_limit_is_admitted_and_one_past_it_refused() -> None:
    gate = FifoAdmission(1, wait_s=0.6)
    outcomes: list[str] = []

    def wait_for_turn() -> None:
        try:
            with gate.admitted():
                outcomes.append("admitted")
        except SearchesBusy:
            outcomes.append("refused")

    for hold_s in (0.3, 1.2):  # under the limit, then past it
        with gate.admitted():
            waiter = threading.Thread(target=wait_for_turn)
            waiter.start()
            time.sleep(hold_s)
        waiter.join(timeout=5)
    assert outcomes == ["admitted", "refused"]
    with gate.admitted():  # nothing left holding a slot or waiting
        pass


def _enter(gate: FifoAdmission, units: int, name: str, order: list[str], leave: threading.Event) -> threading.Thread:
    """A thread that takes ``units`` of ``gate``, notes ``name`` in ``order`` once in, and holds them
    until ``leave`` (a refusal is noted as ``name`` refused)."""

    def run() -> None:
        try:
            with gate.admitted(units):
                order.append(name)
                leave.wait(10)
        except SearchesBusy:
            order.append(f"{name} refused")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_meaning_searches_take_what_one_other_search_does_and_the_queue_keeps_its_order() -> None:
    gate = FifoAdmission(WHOLE, wait_s=10)
    order: list[str] = []
    first, second, whole_leaves, go = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    a = _enter(gate, share(SearchMode.SEMANTIC), "a", order, first)
    b = _enter(gate, share(SearchMode.SEMANTIC), "b", order, second)
    time.sleep(0.2)
    assert sorted(order) == ["a", "b"], "two meaning searches at once in one search's share"
    w = _enter(gate, share(SearchMode.HYBRID), "hybrid", order, whole_leaves)
    time.sleep(0.2)
    h = _enter(gate, share(SearchMode.SEMANTIC), "c", order, go)
    time.sleep(0.2)
    first.set()
    a.join(5)
    time.sleep(0.3)
    assert sorted(order) == ["a", "b"], "half free: the hybrid search waits, and c behind it though c would fit"
    second.set()
    b.join(5)
    time.sleep(0.3)
    assert order[2:] == ["hybrid"], "the whole gate free: the longest waiter first"
    whole_leaves.set()
    w.join(5)
    time.sleep(0.3)
    assert order[2:] == ["hybrid", "c"]
    go.set()
    h.join(5)


def test_a_waiter_that_gives_up_at_the_head_lets_a_smaller_share_behind_it_in() -> None:
    gate = FifoAdmission(WHOLE, wait_s=1.0)
    order: list[str] = []
    held, leave = threading.Event(), threading.Event()
    holder = _enter(gate, HALF, "held", order, held)
    time.sleep(0.1)
    big = _enter(gate, WHOLE, "whole", order, leave)
    time.sleep(0.5)
    small = _enter(gate, HALF, "half", order, leave)  # fits beside the holder, but queues behind the whole share
    time.sleep(0.2)
    assert order == ["held"]
    big.join(5)  # its wait ran out at 1.0 s; the half share behind it is let in then, before its own ran out
    time.sleep(0.2)
    assert order == ["held", "whole refused", "half"]
    leave.set()
    held.set()
    small.join(5)
    holder.join(5)
