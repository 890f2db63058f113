"""A client for an OpenAI-compatible HTTP endpoint (vLLM, Ollama, a hosted API): text embeddings,
and chat completions with an image for captions and visual questions.

Every request waits for the endpoint's rate limits, runs under a timeout and is retried with capped
exponential backoff and jitter when the failure may pass (429, 408, 5xx, a timeout, a refused or
dropped connection), waiting at least as long as a ``Retry-After`` header asks. When the retries run
out the call raises :class:`~mediasift.errors.TransientError`, so the job runtime retries the job
later and the model's circuit breaker counts the failure. A refusal that no retry changes (400, 401,
403, 404, ...) raises :class:`~mediasift.errors.PermanentError` at once, saying what to fix.

Results are cached by the hash of everything that decides them (endpoint model, prompt template id
and version, the rendered prompt, the image's hash), and each call's tokens and cost are counted in
:mod:`mediasift.inference.stats` under the model's reference.

:func:`remote_specs` declares the endpoint's chat and embedding models when the settings name them;
both load the one client of the process for those settings.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.errors import PermanentError, TransientError
from mediasift.inference import stats
from mediasift.inference.openai_protocol import (
    MalformedResponse,
    chat_text,
    embeddings,
    error_detail,
    image_data_url,
    json_object,
    parse_retry_after,
    status_hint,
)
from mediasift.inference.prompts import PromptTemplate, get_template
from mediasift.inference.ratelimit import CHARS_PER_TOKEN, RateLimiter, estimate_tokens
from mediasift.inference.registry import ModelSpec, Runtime
from mediasift.inference.remote_cache import LruCache, ResultCache, cache_key
from mediasift.models import ModelRef

T = TypeVar("T")

CHAT_MODEL_ID = "remote-chat"
EMBEDDING_MODEL_ID = "remote-embedding"
RETRYABLE_STATUS = frozenset({408, 429})  # and every 5xx
CAPTION_PROMPT = "caption"
NOMINAL_TEXT_CHARS = 800  # one text chunk, for the listed price of an embedding


@dataclass(frozen=True)
class ChatResult:
    """One chat answer. ``cost_usd`` is what this call spent (0 when it came from the cache);
    the token counts are those of the answer, cached or not. ``prompt`` is ``template@version``."""

    text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    model: str
    cached: bool
    prompt: str


class RemoteClient:
    """One endpoint, shared by every thread of the process (httpx's client, the rate limiter and the
    cache are all thread-safe). ``backoff_base_s`` and ``backoff_cap_s`` shape the retry delays; a
    ``Retry-After`` longer than the cap is not waited for here but raised as a transient error, so
    a job does not sit on a worker slot for minutes."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: ResultCache | None = None,
        limiter: RateLimiter | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
    ) -> None:
        if not settings.remote_base_url:
            raise ValueError("no remote endpoint is configured (MEDIASIFT_REMOTE_BASE_URL)")
        base = settings.remote_base_url.rstrip("/")
        self.base_url = base.removesuffix("/v1")  # accept the URL with or without the API's /v1
        self.chat_model = settings.remote_chat_model
        self.embedding_model = settings.remote_embedding_model
        self.timeout_s = settings.remote_timeout_s
        self.max_retries = max(0, settings.remote_max_retries)
        self.usd_per_1k_input = settings.remote_usd_per_1k_input_tokens
        self.usd_per_1k_output = settings.remote_usd_per_1k_output_tokens
        self.batch_size = max(1, settings.batch_max_size)
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.limiter = limiter or RateLimiter(settings.remote_requests_per_minute, settings.remote_tokens_per_minute)
        self.cache: ResultCache | None = (
            cache if cache is not None else (LruCache() if settings.inference_cache else None)
        )
        headers = {"Authorization": f"Bearer {settings.remote_api_key}"} if settings.remote_api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=settings.remote_timeout_s)
        self._dim: int | None = None
        self._dim_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identities ---------------------------------------------------------------------------------

    def chat_ref(self, template: PromptTemplate) -> ModelRef:
        return ModelRef(CHAT_MODEL_ID, f"{self.chat_model}#{template.key}")

    @property
    def embedding_ref(self) -> ModelRef:
        return ModelRef(EMBEDDING_MODEL_ID, self.embedding_model)

    # -- chat ---------------------------------------------------------------------------------------

    def chat(
        self, prompt_template_id: str, variables: Mapping[str, str] | None = None, image: bytes | None = None
    ) -> ChatResult:
        """The chat model's answer to a prompt template filled with ``variables``, about ``image``."""
        if not self.chat_model:
            raise PermanentError("no remote chat model is configured (MEDIASIFT_REMOTE_CHAT_MODEL)")
        template = get_template(prompt_template_id)
        system, user = template.render(variables or {})
        ref = self.chat_ref(template)
        image_sha = hashlib.sha256(image).hexdigest() if image is not None else ""
        key = cache_key("chat", self.chat_model, template.key, system, user, image_sha)
        if self.cache is not None:
            hit = self.cache.get(key)
            stats.record_cache(ref, hits=int(hit is not None), misses=int(hit is None))
            if hit is not None:
                return replace(hit, cached=True, cost_usd=0.0)

        content: str | list[dict[str, Any]] = user
        if image is not None:
            content = [
                {"type": "text", "text": user},
                {"type": "image_url", "image_url": {"url": image_data_url(image)}},
            ]
        body = {
            "model": self.chat_model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": content}],
            "max_tokens": template.max_tokens,
            "temperature": 0,
        }
        estimate = estimate_tokens([system, user], images=int(image is not None), max_output_tokens=template.max_tokens)
        payload, seconds = self._post("/v1/chat/completions", body, ref, estimate)
        text = self._checked(ref, chat_text, payload)
        input_tokens, output_tokens = self._usage(ref, payload, estimate - template.max_tokens, len(text))
        self.limiter.settle(estimate, input_tokens + output_tokens)
        cost = self._record(ref, 1, seconds, input_tokens, output_tokens)
        model = payload.get("model") if isinstance(payload.get("model"), str) else self.chat_model
        result = ChatResult(text.strip(), input_tokens, output_tokens, cost, str(model), False, template.key)
        if self.cache is not None:
            self.cache.put(key, result)
        return result

    # -- embeddings ---------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` as an (n, dim) float32 array in input order, rows scaled to unit
        length (so a dot product is the cosine similarity, as for the local embedders)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if not self.embedding_model:
            raise PermanentError("no remote embedding model is configured (MEDIASIFT_REMOTE_EMBEDDING_MODEL)")
        ref = self.embedding_ref
        keys = [cache_key("embed", self.embedding_model, text) for text in texts]
        found: dict[str, npt.NDArray[np.float32]] = {}
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in todo:
                continue
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                found[key] = hit
            else:
                todo[key] = text
        if self.cache is not None:
            stats.record_cache(ref, hits=len(texts) - len(todo), misses=len(todo))
        pending = list(todo.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            for (key, _), vector in zip(batch, self._embed_batch(ref, [t for _, t in batch]), strict=True):
                found[key] = vector
                if self.cache is not None:
                    self.cache.put(key, vector)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    def _embed_batch(self, ref: ModelRef, texts: list[str]) -> npt.NDArray[np.float32]:
        body = {"model": self.embedding_model, "input": texts, "encoding_format": "float"}
        estimate = estimate_tokens(texts)
        payload, seconds = self._post("/v1/embeddings", body, ref, estimate)
        vectors = self._checked(ref, embeddings, payload, len(texts))
        with self._dim_lock:
            if self._dim is None:
                self._dim = vectors.shape[1]
            elif vectors.shape[1] != self._dim:
                stats.record_error(ref)
                raise MalformedResponse(
                    f"{self.base_url}/v1/embeddings returned {vectors.shape[1]}-d embeddings after earlier"
                    f" {self._dim}-d ones; vectors of different models cannot be mixed"
                )
        input_tokens, _ = self._usage(ref, payload, estimate, 0)
        self.limiter.settle(estimate, input_tokens)
        self._record(ref, len(texts), seconds, input_tokens, 0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    # -- the protocol -------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], ref: ModelRef, estimate: int) -> tuple[dict[str, Any], float]:
        """The JSON object a successful POST returns, and the seconds the successful try took."""
        url = f"{self.base_url}{path}"
        problem = ""
        for attempt in range(self.max_retries + 1):
            self.limiter.acquire(estimate)
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = self._http.post(path, json=body)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"cannot reach it ({type(exc).__name__}: {exc})"
            else:
                seconds = time.perf_counter() - started
                status = response.status_code
                if response.is_success:
                    return self._checked(ref, json_object, response), seconds
                if status not in RETRYABLE_STATUS and status < 500:
                    stats.record_error(ref)
                    raise PermanentError(
                        f"{url} refused the request: HTTP {status}{status_hint(status)}: {error_detail(response)}"
                    )
                if status == 429:
                    stats.record(ref, "rate_limited")
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                problem = f"HTTP {status}: {error_detail(response)}"
            if attempt == self.max_retries:
                break
            if retry_after is not None and retry_after > self.backoff_cap_s:
                problem += f" (it asks to wait {retry_after:.0f} s, longer than a call waits)"
                break
            stats.record(ref, "retries")
            time.sleep(self._delay(attempt, retry_after))
        stats.record_error(ref)
        raise TransientError(f"{url} failed after {attempt + 1} tries; last: {problem}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before the next try: what ``Retry-After`` asks plus up to 10% (so clients told
        the same do not all return at once), else capped exponential backoff with jitter."""
        if retry_after is not None:
            return retry_after * random.uniform(1.0, 1.1)
        return min(self.backoff_cap_s, self.backoff_base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def _checked(self, ref: ModelRef, parse: Callable[..., T], *args: Any) -> T:
        """``parse(*args)``, counting a malformed answer as an error of ``ref``."""
        try:
            return parse(*args)
        except MalformedResponse:
            stats.record_error(ref)
            raise

    def _usage(
        self, ref: ModelRef, payload: dict[str, Any], prompt_estimate: int, answer_chars: int
    ) -> tuple[int, int]:
        """Input and output tokens from the answer's ``usage``; estimated (and counted as such)
        when a server leaves it out."""
        usage = payload.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            completion = usage.get("completion_tokens")
            return usage["prompt_tokens"], completion if isinstance(completion, int) else 0
        stats.record(ref, "usage_estimated")
        return prompt_estimate, answer_chars // CHARS_PER_TOKEN

    def _record(self, ref: ModelRef, items: int, seconds: float, input_tokens: int, output_tokens: int) -> float:
        cost = input_tokens / 1000 * self.usd_per_1k_input + output_tokens / 1000 * self.usd_per_1k_output
        stats.record(ref, "input_tokens", input_tokens)
        stats.record(ref, "output_tokens", output_tokens)
        return stats.record_call(ref, items, seconds, cost_usd=cost)


# -- the registry ---------------------------------------------------------------------------------------
#
# Both remote models (chat and embeddings) load the same client for the same settings, so they share
# one connection pool and, above all, one rate limiter: the endpoint's limits cover every call this
# process makes to it, whichever job or thread makes it.

Config = tuple[object, ...]

_lock = threading.Lock()
_clients: dict[Config, RemoteClient] = {}


def _config(settings: Settings) -> Config:
    """The settings that make one client differ from another."""
    s = settings
    return (
        s.remote_base_url, s.remote_api_key, s.remote_chat_model, s.remote_embedding_model, s.remote_timeout_s,
        s.remote_max_retries, s.remote_requests_per_minute, s.remote_tokens_per_minute,
        s.remote_usd_per_1k_input_tokens, s.remote_usd_per_1k_output_tokens, s.inference_cache, s.batch_max_size,
    )  # fmt: skip


def shared_client(settings: Settings) -> RemoteClient:
    """The process's client for these settings, made on first use."""
    key = _config(settings)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RemoteClient(settings)
        return client


def _no_files() -> list[Path]:
    """A remote model has nothing on this machine to look for."""
    return []


def remote_specs(settings: Settings) -> list[ModelSpec]:
    """The remote models these settings configure: none without an endpoint."""
    s = settings
    if not s.remote_base_url:
        return []
    load = partial(shared_client, settings)
    specs = []
    if s.remote_chat_model:
        caption = get_template(CAPTION_PROMPT)
        prompt_tokens = estimate_tokens([caption.system, caption.user], images=1)
        specs.append(
            ModelSpec(
                id=CHAT_MODEL_ID, version=f"{s.remote_chat_model}#{caption.key}", task="image-captioning",
                input_kind="image", runtime=Runtime.REMOTE_HTTP, output="text", files=_no_files, load=load,
                load_key=_config(settings),
                cost_per_item_usd=prompt_tokens / 1000 * s.remote_usd_per_1k_input_tokens
                + caption.max_tokens / 1000 * s.remote_usd_per_1k_output_tokens,
                optional=True,
            )
        )  # fmt: skip
    if s.remote_embedding_model:
        specs.append(
            ModelSpec(
                id=EMBEDDING_MODEL_ID, version=s.remote_embedding_model, task="text-embedding", input_kind="text",
                runtime=Runtime.REMOTE_HTTP, output="vector", files=_no_files, load=load, load_key=_config(settings),
                batches=True,
                batch_size=s.batch_max_size,
                cost_per_item_usd=estimate_tokens(["x" * NOMINAL_TEXT_CHARS]) / 1000 * s.remote_usd_per_1k_input_tokens,
                optional=True,
            )
        )  # fmt: skip
    return specs
