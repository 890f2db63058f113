"""For the tests of models mediasift builds and keeps in its cache of built models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import pytest


@contextmanager
def not_built(monkeypatch: pytest.MonkeyPatch, module: ModuleType, builder: str) -> Iterator[None]:
    """Inside the block, a call of ``module.builder`` fails the test: a model loaded there must come
    from the cache."""

    def refused(*args: object) -> None:
        raise AssertionError("built again although the cache holds it")

    with monkeypatch.context() as patched:
        patched.setattr(module, builder, refused)
        yield
