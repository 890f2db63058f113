"""What a request's JSON body may hold: the fields its model names, and no others."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """A request body whose unknown fields are a 422, not dropped: a mistyped optional field
    ("expires" for "expires_at") would otherwise be ignored without a word, and a key made to expire
    would never expire."""

    model_config = ConfigDict(extra="forbid")
