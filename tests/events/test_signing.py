"""Webhook signatures: the Standard Webhooks test vector, and the receiver's own check refusing what
it must (so that a delivery found "verified" in the other tests means something)."""

from __future__ import annotations

import time

from mediasift.events.signing import headers, new_secret, signature

from support.receiver import verify

# The specification's published vector (the reference libraries test against it).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_standard_webhooks_vector_is_reproduced() -> None:
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    sent = headers(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert sent["webhook-signature"] == VECTOR_SIGNATURE and sent["webhook-id"] == VECTOR_ID
    assert verify(VECTOR_SECRET, sent, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and len(first) == len("whsec_") + 44 and first != second


def test_the_receiver_refuses_a_wrong_secret_a_changed_body_and_a_stale_timestamp() -> None:
    secret, now = new_secret(), int(time.time())
    good = headers(secret, "evt", now, b"{}")
    assert verify(secret, good, b"{}")
    assert not verify(new_secret(), good, b"{}")
    assert not verify(secret, good, b'{"a":1}')
    assert not verify(secret, {**good, "webhook-id": "other"}, b"{}")
    assert not verify(secret, headers(secret, "evt", now - 301, b"{}"), b"{}")
    assert verify(secret, headers(secret, "evt", now - 299, b"{}"), b"{}")
