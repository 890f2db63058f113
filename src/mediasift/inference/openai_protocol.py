"""The OpenAI HTTP protocol's side of the remote client: what a request carries (an image as a
``data:`` URL), what a header means (``Retry-After``), and the checks that turn an answer into
values or into a clear :class:`MalformedResponse`."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from mediasift.errors import PermanentError, TransientError

BODY_SNIPPET_CHARS = 200

_IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


class MalformedResponse(TransientError):
    """The endpoint answered 200 with something that is not the protocol's answer: a body that is
    not JSON, a field missing or of the wrong type, embeddings of the wrong number or dimension.

    Transient rather than permanent: nothing is wrong with the input, and the usual causes (a proxy's
    error page, a truncated body, a server restarting with another model, an endpoint URL that
    needs fixing) pass or get fixed, after which the same job succeeds. It is not retried inside the
    call, though: a server that garbles one answer usually garbles the next one straight away, so
    the job's own retry schedule, longer and watched by the model's circuit breaker, is the right
    place to try again.
    """


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def image_data_url(image: bytes) -> str:
    """An image as a ``data:`` URL, the form OpenAI's ``image_url`` content part takes."""
    mime = next((m for sig, m in _IMAGE_SIGNATURES if image.startswith(sig)), None)
    if mime is None and image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise PermanentError("the image is not PNG, JPEG, GIF or WebP, which is what vision models accept")
    return f"data:{mime};base64,{base64.b64encode(image).decode()}"


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BODY_SNIPPET_CHARS else text[:BODY_SNIPPET_CHARS] + "…"


def error_detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else error
    return snippet(message if isinstance(message, str) else response.text) or "(empty body)"


def status_hint(status: int) -> str:
    return {
        401: " (check MEDIASIFT_REMOTE_API_KEY)",
        403: " (the API key may not use this model)",
        404: " (check MEDIASIFT_REMOTE_BASE_URL and the model name)",
    }.get(status, "")


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise MalformedResponse(
            f"{response.request.url} answered HTTP {response.status_code} with a body that is not JSON:"
            f" {snippet(response.text)!r}"
        ) from None
    if not isinstance(payload, dict):
        raise MalformedResponse(
            f"{response.request.url} answered with JSON that is not an object: {snippet(response.text)!r}"
        )
    return payload


def chat_text(payload: dict[str, Any]) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise MalformedResponse(
            f"the chat answer has no choices[0].message.content: {snippet(str(payload))!r}"
        ) from None
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise MalformedResponse(f"the chat answer's content is neither text nor text parts: {snippet(str(content))!r}")


def embeddings(payload: dict[str, Any], expected: int) -> npt.NDArray[np.float64]:
    data = payload.get("data")
    if not isinstance(data, list):
        raise MalformedResponse(f"the embeddings answer has no data list: {snippet(str(payload))!r}")
    if len(data) != expected:
        raise MalformedResponse(f"asked for {expected} embeddings, the answer holds {len(data)}")
    rows: list[list[float] | None] = [None] * expected
    for position, item in enumerate(data):
        vector = item.get("embedding") if isinstance(item, dict) else None
        index = item.get("index", position) if isinstance(item, dict) else position
        if not isinstance(vector, list) or not vector or not isinstance(index, int) or not 0 <= index < expected:
            raise MalformedResponse(f"embedding {position} of the answer is not a list of numbers with a valid index")
        rows[index] = vector
    if any(row is None for row in rows):
        raise MalformedResponse("the embeddings answer repeats an index and leaves another out")
    if len({len(row) for row in rows if row is not None}) != 1:
        raise MalformedResponse("the embeddings in one answer have different dimensions")
    try:
        vectors = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise MalformedResponse("an embedding holds something that is not a number") from None
    if vectors.ndim != 2:
        raise MalformedResponse("an embedding is not a flat list of numbers")
    if not np.isfinite(vectors).all():
        raise MalformedResponse("an embedding holds a value that is not finite")
    return vectors
