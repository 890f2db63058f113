"""A web UI session for tests: signed in through the real form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def sign_in(client: TestClient, key: str) -> None:
    """Sign ``client`` in with ``key`` through the sign-in form (its CSRF token included)."""
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    assert client.post("/signin", data={"key": key, "csrf": token.group(1)}).status_code == 303
