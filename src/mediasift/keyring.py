"""API keys: made, checked, listed and revoked. A key reads ``ms_<id>_<secret>``; only the SHA-256
of the secret is stored, so the key is shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from mediasift.access import Principal, Scope, check_tenant_name
from mediasift.db import keys as key_repo
from mediasift.db.connection import Database
from mediasift.service_models import ApiKeyInfo, CreatedKey

PREFIX = "ms_"


def _split(key: str) -> tuple[str, str] | None:
    if not key.startswith(PREFIX):
        return None
    key_id, _, secret = key[len(PREFIX) :].partition("_")
    if len(key_id) != 16 or not secret or len(secret) > 128:
        return None
    return key_id, secret


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class KeyRing:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, tenant: str, scope: Scope, *, expires_at: datetime | None = None, name: str = "") -> CreatedKey:
        """A new key of ``tenant`` (created when new) with ``scope``; ValueError for a bad tenant name
        or an expiry that is not in the future (a time without a zone is UTC)."""
        check_tenant_name(tenant)
        if expires_at is not None:
            expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                raise ValueError(
                    f"expires_at {expires_at.isoformat()} is not in the future: the key could never be used"
                )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self.db.transaction() as conn:
            key_repo.ensure_tenant(conn, tenant)
            row = key_repo.insert_key(
                conn,
                key_id=key_id,
                tenant=tenant,
                scope=scope.value,
                secret_sha256=_digest(secret),
                name=name,
                expires_at=expires_at,
            )
        return CreatedKey(key=f"{PREFIX}{key_id}_{secret}", **ApiKeyInfo.model_validate(row).model_dump())

    def authenticate(self, key: str) -> Principal | None:
        """The principal ``key`` stands for; None when it is malformed, unknown, revoked or expired."""
        parts = _split(key)
        if parts is None:
            return None
        key_id, secret = parts
        with self.db.transaction() as conn:
            row = key_repo.usable_key(conn, key_id)
        if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), _digest(secret)):
            return None
        return Principal(tenant=row["tenant"], scope=Scope(row["scope"]), key_id=key_id)

    def session_principal(self, key_id: str) -> tuple[Principal, bytes] | None:
        """The principal of the key ``key_id`` and its secret's hash (what a web session is signed
        with, so that a session outlives neither the key nor its revocation); None when the key is
        unknown, revoked or expired."""
        with self.db.transaction() as conn:
            row = key_repo.usable_key(conn, key_id)
        if row is None:
            return None
        return Principal(tenant=row["tenant"], scope=Scope(row["scope"]), key_id=key_id), bytes(row["secret_sha256"])

    def list(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        with self.db.transaction() as conn:
            return [ApiKeyInfo.model_validate(row) for row in key_repo.list_keys(conn, tenant)]

    def revoke(self, key_id: str, tenant: str | None = None) -> bool:
        with self.db.transaction() as conn:
            return key_repo.revoke(conn, key_id, tenant)

    def has_admin(self) -> bool:
        with self.db.transaction() as conn:
            return key_repo.count_usable_admin_keys(conn) > 0
