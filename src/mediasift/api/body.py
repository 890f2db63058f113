"""What a request's JSON body may hold: the fields its model names, and no others."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class RequestBody(BaseModel):
    """A request body whose unknown fields are a 422, not dropped: a mistyped optional field
    ("expires" for "expires_at") would otherwise be ignored without a word, and a key made to expire
    would never expire."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        """No text holds a NUL character: PostgreSQL cannot store one (a key named "\\x00" was a 500)."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not hold a NUL character (\\x00)")
        return value
