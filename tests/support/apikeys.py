"""API keys for tests: one of each kind, made through the real key ring."""

from __future__ import annotations

from dataclasses import dataclass

from mediasift.access import Scope
from mediasift.config import Settings
from mediasift.service import Mediasift


@dataclass(frozen=True)
class Keys:
    write: str  # tenant alpha
    read: str  # tenant alpha
    other: str  # a write key of tenant beta
    admin: str  # tenant default


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_keys(settings: Settings) -> Keys:
    system = Mediasift(settings)
    try:
        return Keys(
            write=system.keys.create("alpha", Scope.WRITE).key,
            read=system.keys.create("alpha", Scope.READ).key,
            other=system.keys.create("beta", Scope.WRITE).key,
            admin=system.keys.create("default", Scope.ADMIN).key,
        )
    finally:
        system.close()
