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

from mediasift.api.admission import FifoAdmission, SearchesBusy
from mediasift.api.app import create_app
from mediasift.config import Settings
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
