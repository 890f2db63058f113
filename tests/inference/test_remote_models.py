"""The OpenAI-compatible remote client against a local stand-in that speaks the protocol: answers,
rate limits, 429 with Retry-After, timeouts, refusals, garbage, the cache, tokens and cost; and the
caption operator end to end."""

from __future__ import annotations

import io
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.db import results as result_repo
from mediasift.errors import PermanentError, TransientError
from mediasift.inference import stats
from mediasift.inference.catalog import Catalog, NotConfigured, Role
from mediasift.inference.door import Inference
from mediasift.inference.openai_protocol import MalformedResponse, parse_retry_after
from mediasift.inference.prompts import PromptError, get_template
from mediasift.inference.ratelimit import RateLimiter
from mediasift.inference.registry import Runtime, pool
from mediasift.inference.remote import CHAT_MODEL_ID, EMBEDDING_MODEL_ID, RemoteClient, remote_specs
from mediasift.models import ModelRef
from mediasift.operators.caption import Caption
from mediasift.service import Mediasift

from support.openai_standin import Reply, StandIn, text_embedding

USD_IN, USD_OUT = 0.5, 1.5  # per 1,000 tokens
CAPTION_REF = ModelRef(CHAT_MODEL_ID, "standin-vl#caption@1")
QUESTION_REF = ModelRef(CHAT_MODEL_ID, "standin-vl#visual_question@1")
EMBED_REF = ModelRef(EMBEDDING_MODEL_ID, "standin-embed")


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn().start()
    yield server
    server.stop()


def remote_settings(standin: StandIn, home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "remote_base_url": standin.url,
        "remote_api_key": standin.api_key,
        "remote_chat_model": "standin-vl",
        "remote_embedding_model": "standin-embed",
        "remote_timeout_s": 2.0,
        "remote_max_retries": 2,
        "remote_requests_per_minute": 0,
        "remote_tokens_per_minute": 0,
        "remote_usd_per_1k_input_tokens": USD_IN,
        "remote_usd_per_1k_output_tokens": USD_OUT,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def client_for(standin: StandIn, tmp_path: Path, **overrides: object) -> RemoteClient:
    return RemoteClient(remote_settings(standin, tmp_path, **overrides), backoff_base_s=0.05, backoff_cap_s=5.0)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def arrivals(standin: StandIn, path: str) -> list[float]:
    return [r.at for r in standin.requests(path)]


# -- normal answers -----------------------------------------------------------------------------------


def test_embeddings_come_back_in_input_order_as_unit_vectors(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path, batch_max_size=2)
    texts = ["a harbour at dusk", "a red bicycle", "a harbour at dusk", "snow", "rain", "fog"]
    vectors = client.embed(texts)
    assert vectors.shape == (6, standin.dim) and vectors.dtype == np.float32
    expected = np.array(text_embedding("a red bicycle", standin.dim))
    assert np.allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sent = standin.requests("/v1/embeddings")
    assert [r.body["input"] for r in sent] == [["a harbour at dusk", "a red bicycle"], ["snow", "rain"], ["fog"]]
    assert {r.body["model"] for r in sent} == {"standin-embed"}
    assert {r.authorization for r in sent} == {f"Bearer {standin.api_key}"}
    assert client.embed([]).shape == (0, standin.dim)


def test_chat_sends_the_image_as_a_data_url_and_records_tokens_and_cost(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    before = {c: stats.count(CAPTION_REF, c) for c in ("calls", "input_tokens", "output_tokens", "cost_usd")}
    result = client.chat("caption", {}, png((200, 20, 20)))
    assert "mostly red" in result.text and "64 by 48" in result.text
    assert (result.model, result.prompt, result.cached) == ("standin-vl", "caption@1", False)

    (request,) = standin.requests("/v1/chat/completions")
    template = get_template("caption")
    system, user = request.body["messages"]
    assert system == {"role": "system", "content": template.system}
    assert user["content"][0] == {"type": "text", "text": template.user}
    assert user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert request.body["max_tokens"] == template.max_tokens

    assert result.input_tokens > 85 and result.output_tokens > 0  # the stand-in's usage, image included
    cost = result.input_tokens / 1000 * USD_IN + result.output_tokens / 1000 * USD_OUT
    assert result.cost_usd == pytest.approx(cost)
    assert stats.count(CAPTION_REF, "calls") - before["calls"] == 1
    assert stats.count(CAPTION_REF, "input_tokens") - before["input_tokens"] == result.input_tokens
    assert stats.count(CAPTION_REF, "output_tokens") - before["output_tokens"] == result.output_tokens
    assert stats.count(CAPTION_REF, "cost_usd") - before["cost_usd"] == pytest.approx(cost)


def test_a_prompt_takes_exactly_its_variables(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    answer = client.chat("visual_question", {"question": "Is there a boat?"})
    assert answer.text == "You asked: Is there a boat?"
    with pytest.raises(PromptError, match="missing \\['question'\\]"):
        client.chat("visual_question", {})
    with pytest.raises(PromptError, match="unknown \\['colour'\\]"):
        client.chat("caption", {"colour": "red"})
    with pytest.raises(PromptError, match="no prompt template 'poem'"):
        client.chat("poem")
    assert len(standin.requests()) == 1


def test_a_repeated_call_is_answered_from_the_cache(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    hits = stats.count(QUESTION_REF, "cache_hits")
    first = client.chat("visual_question", {"question": "What colour?"}, png((20, 40, 200)))
    again = client.chat("visual_question", {"question": "What colour?"}, png((20, 40, 200)))
    assert again.cached and again.cost_usd == 0.0 and again.text == first.text
    assert stats.count(QUESTION_REF, "cache_hits") - hits == 1
    assert len(standin.requests()) == 1
    client.chat("visual_question", {"question": "What colour?"}, png((20, 200, 40)))  # another image
    client.chat("visual_question", {"question": "Which colour?"}, png((20, 40, 200)))  # another prompt
    assert len(standin.requests()) == 3
    client.embed(["one", "two"])
    client.embed(["two", "one"])
    assert len(standin.requests("/v1/embeddings")) == 1


# -- rate limits -------------------------------------------------------------------------------------


def test_requests_per_minute_spread_the_calls(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path, remote_requests_per_minute=120, inference_cache=False)
    for i in range(6):
        client.chat("visual_question", {"question": f"question {i}"})
    times = arrivals(standin, "/v1/chat/completions")
    # 2 a second, at most one second's worth at once: two go at once, then one every 0.5 s. These are
    # arrival times at the server: on a busy machine a request can arrive a little late, and the
    # one after it on time, so a gap may look up to 0.1 s short while the rate holds.
    assert times[1] - times[0] < 0.2
    assert times[-1] - times[0] >= 2.0 - 0.1
    assert all(b - a >= 0.5 - 0.1 for a, b in itertools.pairwise(times[1:]))
    assert times[-1] - times[0] < 3.0


def test_the_limit_holds_across_threads(standin: StandIn, tmp_path: Path) -> None:
    started = time.monotonic()
    client = client_for(standin, tmp_path, remote_requests_per_minute=240, inference_cache=False)

    def work(n: int) -> None:
        for i in range(2):
            client.chat("visual_question", {"question": f"thread {n} question {i}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(arrivals(standin, "/v1/chat/completions")) == 8
    # four at once, then four a second: the eighth cannot leave before one second after the limiter
    # was made. Timed from this side, since arrival times at the server carry the requests'
    # lateness, and the first of a burst opening its connection can arrive late enough (CI: 350 ms)
    # to make the spread at the server look short.
    assert elapsed >= (8 - 4) / 4


def test_tokens_per_minute_hold_back_large_calls(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path, remote_tokens_per_minute=1200, inference_cache=False)
    for i in range(4):
        client.embed([f"{i} " + "x" * 38])  # 40 characters: 11 tokens, estimated and used
    times = arrivals(standin, "/v1/embeddings")
    # 20 tokens a second, at most 20 at once: 44 tokens need (44 - 20) / 20 = 1.2 s
    assert times[-1] - times[0] >= 1.2 - 0.1  # the same arrival lateness as above
    assert times[-1] - times[0] < 2.0


def test_the_token_estimate_is_corrected_by_what_the_call_used() -> None:
    limiter = RateLimiter(0, 24_000)  # 400 tokens a second, 400 at most
    assert limiter.acquire(400) < 0.01
    limiter.settle(estimated=400, actual=80)
    assert limiter.acquire(320) < 0.05, "the 320 tokens not used were given back"
    started = time.monotonic()
    limiter.acquire(600)  # larger than the bucket: waits for it to fill, then owes the rest
    limiter.acquire(80)
    assert time.monotonic() - started >= (400 + 200 + 80) / 400 - 0.05


# -- failures ------------------------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_asks(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    limited = stats.count(EMBED_REF, "rate_limited")
    standin.script(Reply.rate_limited("1"))
    client.embed(["patience"])
    first, second = arrivals(standin, "/v1/embeddings")
    assert second - first >= 1.0
    assert second - first < 1.0 * 1.1 + 0.3
    assert stats.count(EMBED_REF, "rate_limited") - limited == 1


def test_retry_after_as_an_http_date(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    standin.script(Reply.rate_limited(formatdate(time.time() + 2, usegmt=True)))
    client.embed(["later"])
    first, second = arrivals(standin, "/v1/embeddings")
    assert second - first >= 1.0  # the date has whole seconds: 2 s from now is 1 to 2 s away


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_retry_after_too_long_to_wait_is_left_to_the_job_runtime(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    standin.script(Reply.rate_limited("3600"))
    started = time.monotonic()
    with pytest.raises(TransientError, match="asks to wait 3600 s"):
        client.embed(["now"])
    assert time.monotonic() - started < 1.0
    assert len(standin.requests()) == 1


def test_server_errors_are_retried_with_backoff(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    standin.script(Reply.error(500, "boom"), Reply.error(503, "overloaded"))
    assert client.chat("visual_question", {"question": "still there?"}).text == "You asked: still there?"
    first, second, third = arrivals(standin, "/v1/chat/completions")
    assert second - first >= 0.05 * 0.5 and third - second >= 0.1 * 0.5  # base 0.05 s, doubling, jitter 50-100%


def test_timeouts_end_in_a_transient_error_after_the_retries(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path, remote_timeout_s=0.3, remote_max_retries=2)
    errors = stats.count(EMBED_REF, "errors")
    standin.script(*[Reply(delay_s=1.5)] * 3)
    with pytest.raises(TransientError, match=r"after 3 tries; last: no answer within 0\.3 s"):
        client.embed(["slow"])
    assert len(standin.requests()) == 3
    assert stats.count(EMBED_REF, "errors") - errors == 1


def test_an_unreachable_endpoint_is_transient(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(home=tmp_path, remote_base_url=f"http://127.0.0.1:{port}/v1", remote_embedding_model="e",
                        remote_max_retries=1, remote_requests_per_minute=0)  # fmt: skip
    client = RemoteClient(settings, backoff_base_s=0.01)
    with pytest.raises(TransientError, match="after 2 tries; last: cannot reach it"):
        client.embed(["anyone?"])


def test_a_wrong_api_key_is_permanent_and_says_what_to_fix(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path, remote_api_key="sk-wrong")
    with pytest.raises(PermanentError, match="HTTP 401 \\(check MEDIASIFT_REMOTE_API_KEY\\): Incorrect API key"):
        client.embed(["secret"])
    assert len(standin.requests()) == 1, "a refusal is not retried"
    assert standin.requests()[0].authorization == "Bearer sk-wrong"


def test_a_bad_request_is_permanent_with_the_servers_message(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    standin.script(Reply.error(400, "this model does not accept images"))
    with pytest.raises(PermanentError, match="HTTP 400: this model does not accept images"):
        client.chat("caption", {}, png((0, 0, 0)))
    with pytest.raises(PermanentError, match="not PNG, JPEG, GIF or WebP"):
        client.chat("caption", {}, b"not an image at all")
    assert len(standin.requests()) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(body=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"), "not JSON: '<html>"),
        (Reply.json({"id": "x", "object": "chat.completion"}), r"no choices\[0\]\.message\.content"),
        (Reply.json({"choices": [{"message": {"content": 42}}]}), "neither text nor text parts"),
        (Reply.json([1, 2, 3]), "JSON that is not an object"),
    ],
)
def test_malformed_chat_answers_are_clear_transient_errors(
    standin: StandIn, tmp_path: Path, reply: Reply, message: str
) -> None:
    client = client_for(standin, tmp_path)
    errors = stats.count(QUESTION_REF, "errors")
    standin.script(reply)
    with pytest.raises(MalformedResponse, match=message) as caught:
        client.chat("visual_question", {"question": "hello?"})
    assert isinstance(caught.value, TransientError)
    assert len(standin.requests()) == 1, "garbage is left to the job's retries, not repeated at once"
    assert stats.count(QUESTION_REF, "errors") - errors == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.json({"data": [{"index": 0, "embedding": [0.1, 0.2]}]}), "asked for 2 embeddings, the answer holds 1"),
        (Reply.json({"object": "list"}), "no data list"),
        (Reply.json({"data": [{"embedding": [0.1, 0.2]}, {"embedding": [0.1]}]}), "different dimensions"),
        (Reply.json({"data": [{"embedding": [0.1, "x"]}, {"embedding": [0.1, 0.2]}]}), "not a number"),
        (Reply.json({"data": [{"index": 1, "embedding": [1.0]}, {"index": 1, "embedding": [1.0]}]}), "repeats"),
    ],
)
def test_malformed_embeddings_are_refused(standin: StandIn, tmp_path: Path, reply: Reply, message: str) -> None:
    client = client_for(standin, tmp_path)
    standin.script(reply)
    with pytest.raises(MalformedResponse, match=message):
        client.embed(["first", "second"])


def test_embeddings_that_change_dimension_are_refused(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    client.embed(["sixteen dimensions"])
    standin.script(Reply.json({"data": [{"index": 0, "embedding": [0.5] * 8}], "usage": {"prompt_tokens": 2}}))
    with pytest.raises(MalformedResponse, match="8-d embeddings after earlier 16-d ones"):
        client.embed(["eight dimensions"])


def test_an_answer_without_usage_is_counted_on_an_estimate(standin: StandIn, tmp_path: Path) -> None:
    client = client_for(standin, tmp_path)
    estimated = stats.count(QUESTION_REF, "usage_estimated")
    standin.script(Reply.json({"model": "m", "choices": [{"message": {"content": "twelve chars"}}]}))
    answer = client.chat("visual_question", {"question": "no usage?"})
    assert answer.text == "twelve chars" and answer.output_tokens == 3 and answer.input_tokens > 0
    assert stats.count(QUESTION_REF, "usage_estimated") - estimated == 1


# -- declarations and operator ---------------------------------------------------------------------------


def test_remote_models_are_declared_only_when_configured(standin: StandIn, tmp_path: Path) -> None:
    unconfigured = Settings(home=tmp_path, remote_base_url="")
    assert remote_specs(unconfigured) == []
    assert not {CHAT_MODEL_ID, EMBEDDING_MODEL_ID} & {spec.id for spec in Catalog(unconfigured).specs()}
    with pytest.raises(NotConfigured):
        Catalog(unconfigured).spec(Role.REMOTE_CHAT)
    settings = remote_settings(standin, tmp_path)
    catalog = Catalog(settings)
    chat, embed = catalog.spec(Role.REMOTE_CHAT), catalog.spec(Role.REMOTE_EMBEDDING)
    assert [spec.id for spec in remote_specs(settings)] == [CHAT_MODEL_ID, EMBEDDING_MODEL_ID]
    assert {CHAT_MODEL_ID, EMBEDDING_MODEL_ID} <= {spec.id for spec in catalog.specs()}
    assert (chat.task, embed.task) == ("image-captioning", "text-embedding")
    assert {chat.runtime, embed.runtime} == {Runtime.REMOTE_HTTP}
    assert chat.optional and embed.optional
    assert chat.version == "standin-vl#caption@1" and embed.version == "standin-embed"
    assert chat.files() == [] and Inference(settings).problems() == {}
    assert chat.cost_per_item_usd > 0
    handle = pool.handle(chat)
    assert handle.get() is pool.handle(embed).get(), "one client, so one rate limiter, per endpoint"
    assert Inference(settings).handle(Role.REMOTE_CHAT) is handle  # another door, the same settings
    other = Catalog(settings.model_copy(update={"remote_chat_model": "other-vl"})).spec(Role.REMOTE_CHAT)
    assert pool.handle(other) is not handle and other.version == "other-vl#caption@1"
    only_embed = Catalog(settings.model_copy(update={"remote_chat_model": ""}))
    assert [spec.id for spec in only_embed.specs() if spec.runtime == Runtime.REMOTE_HTTP] == [EMBEDDING_MODEL_ID]


def test_the_door_captions_through_the_shared_client(standin: StandIn, tmp_path: Path) -> None:
    door = Inference(remote_settings(standin, tmp_path))
    calls = stats.count(CAPTION_REF, "calls")
    answer = door.caption(png((200, 20, 20)))
    assert "mostly red" in answer.text and answer.prompt == "caption@1"
    assert stats.count(CAPTION_REF, "calls") == calls + 1
    assert len(standin.requests("/v1/chat/completions")) == 1


def test_doors_configured_for_two_endpoints_each_reach_their_own(standin: StandIn, tmp_path: Path) -> None:
    """The same model name at two endpoints (another URL, another key) is two clients: a door never
    sends its requests, and its API key, to the endpoint another door's settings name."""
    second = StandIn(api_key="sk-second").start()
    try:
        first_door = Inference(remote_settings(standin, tmp_path))
        second_door = Inference(remote_settings(second, tmp_path))
        assert "mostly red" in first_door.caption(png((200, 20, 20))).text
        assert "mostly blue" in second_door.caption(png((20, 20, 200))).text
        first_got, second_got = standin.requests("/v1/chat/completions"), second.requests("/v1/chat/completions")
        assert (len(first_got), len(second_got)) == (1, 1), "a door sent its request to the other's endpoint"
        assert first_got[0].authorization == f"Bearer {standin.api_key}"
        assert second_got[0].authorization == "Bearer sk-second"
    finally:
        second.stop()


def test_the_caption_operator_is_off_without_an_endpoint_and_chat_model(standin: StandIn, tmp_path: Path) -> None:
    assert not Caption().enabled(Settings(home=tmp_path, remote_base_url="", remote_chat_model=""))
    assert not Caption().enabled(remote_settings(standin, tmp_path, remote_chat_model=""))
    assert Caption().enabled(remote_settings(standin, tmp_path))


@pytest.mark.slow
def test_an_ingested_image_gets_a_searchable_caption(standin: StandIn, settings: Settings, media_dir: Path) -> None:
    path = media_dir / "poppy.png"
    picture = Image.new("RGB", (320, 240), (210, 25, 25))
    picture.paste((250, 250, 250), (140, 100, 180, 140))
    picture.save(path)
    configured = settings.model_copy(
        update={
            "remote_base_url": standin.url + "/v1",
            "remote_api_key": standin.api_key,
            "remote_chat_model": "standin-vl",
            "remote_usd_per_1k_input_tokens": USD_IN,
            "remote_usd_per_1k_output_tokens": USD_OUT,
        }
    )
    system = Mediasift(configured)
    report = system.ingest([path], wait=True)
    asset_id = report.accepted[0].asset_id
    detail = system.describe(asset_id)
    assert detail.status == "done"
    assert detail.jobs["caption"].state == "done"
    run = detail.operators["caption"]
    assert (run.model, run.model_version) == (CHAT_MODEL_ID, "caption@1")
    assert run.cost > 0
    with system.db.connect() as conn:
        (segment,) = result_repo.read_segments(conn, asset_id, operator="caption")
    assert segment.kind == "caption" and "mostly red" in (segment.text or "")
    assert segment.data["model"] == "standin-vl" and segment.data["prompt"] == "caption@1"
    (request,) = standin.requests("/v1/chat/completions")
    assert request.authorization == f"Bearer {standin.api_key}"
    hits = system.search("a picture that is mostly red")
    assert hits and hits[0].asset_id == asset_id and hits[0].kind == "caption"
