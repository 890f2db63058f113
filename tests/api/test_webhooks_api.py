"""Webhooks over the HTTP API: made (the secret shown once), listed and removed per tenant; a read key
cannot make or remove one; another tenant's webhook is a 404; a bad URL or event type is a 422."""

from __future__ import annotations

import json
from uuid import uuid4

from fastapi.testclient import TestClient

from support.apikeys import Keys, bearer

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["asset.analysed", "asset.deleted"]}


def test_a_webhook_is_made_listed_and_removed_by_its_tenant(client: TestClient, keys: Keys) -> None:
    made = client.post("/v1/webhooks", json=HOOK)
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["tenant"] == "alpha" and created["secret"].startswith("whsec_")
    assert created["event_types"] == HOOK["events"]
    listed = client.get("/v1/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    assert client.get("/v1/webhooks", headers=bearer(keys.read)).json()["webhooks"] == listed
    assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 204
    assert client.get("/v1/webhooks").json()["webhooks"] == []
    assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 404


def test_a_password_in_a_webhooks_url_is_never_listed(client: TestClient, keys: Keys) -> None:
    made = client.post("/v1/webhooks", json={**HOOK, "url": "http://hooks:s3cret@127.0.0.1:9/hook?x=1"})
    assert made.status_code == 201 and made.json()["url"] == "http://hooks:s3cret@127.0.0.1:9/hook?x=1", "as sent"
    for key in (keys.write, keys.read):
        (listed,) = client.get("/v1/webhooks", headers=bearer(key)).json()["webhooks"]
        assert listed["url"] == "http://hooks:***@127.0.0.1:9/hook?x=1"


def test_tenants_do_not_see_or_remove_each_others_webhooks(client: TestClient, keys: Keys) -> None:
    alpha = client.post("/v1/webhooks", json=HOOK).json()
    beta = client.post("/v1/webhooks", json=HOOK, headers=bearer(keys.other)).json()
    assert beta["tenant"] == "beta"
    assert [w["id"] for w in client.get("/v1/webhooks", headers=bearer(keys.other)).json()["webhooks"]] == [beta["id"]]
    assert client.delete(f"/v1/webhooks/{alpha['id']}", headers=bearer(keys.other)).status_code == 404
    everyone = client.get("/v1/webhooks", headers=bearer(keys.admin)).json()["webhooks"]
    assert {w["tenant"] for w in everyone} == {"alpha", "beta"}
    for_alpha = client.post("/v1/webhooks?tenant=alpha", json=HOOK, headers=bearer(keys.admin)).json()
    assert for_alpha["tenant"] == "alpha"


def test_a_json_body_sent_as_another_type_is_told_to_be_json(client: TestClient) -> None:
    sent = client.post("/v1/webhooks", content=json.dumps(HOOK), headers={"content-type": "text/plain"})
    assert sent.status_code == 422 and sent.json()["detail"] == (
        "the body must be JSON, sent with Content-Type: application/json"
    )
    typo = client.post("/v1/webhooks", json={**HOOK, "event": ["asset.deleted"]})
    assert typo.status_code == 422 and "body.event" in typo.json()["detail"], "a JSON body: its own fault said"


def test_a_read_key_cannot_make_or_remove_a_webhook(client: TestClient, keys: Keys) -> None:
    made = client.post("/v1/webhooks", json=HOOK).json()
    assert client.post("/v1/webhooks", json=HOOK, headers=bearer(keys.read)).status_code == 403
    assert client.delete(f"/v1/webhooks/{made['id']}", headers=bearer(keys.read)).status_code == 403


def test_bad_webhooks_are_422_problems(client: TestClient) -> None:
    for body in (
        {"url": "ftp://example.com/x", "events": ["asset.analysed"]},
        {"url": "https://example.com/x", "events": ["asset.exploded"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x"},
    ):
        answer = client.post("/v1/webhooks", json=body)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert client.delete(f"/v1/webhooks/{uuid4()}").status_code == 404
    assert client.delete("/v1/webhooks/not-an-id").status_code == 422
