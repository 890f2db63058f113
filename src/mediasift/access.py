"""Who is asking and what they may do: tenants, key scopes, and the principal a request acts as.

Every asset belongs to a tenant. A key is bound to one tenant and one scope: ``read`` reads that
tenant's data, ``write`` also ingests, deletes and re-drives, ``admin`` may do everything across every
tenant. The CLI acts as :data:`CLI`, an admin on the ``default`` tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

DEFAULT_TENANT = "default"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        order = (Scope.READ, Scope.WRITE, Scope.ADMIN)
        return order.index(self) >= order.index(needed)


def check_tenant_name(name: str) -> str:
    """``name`` when it can name a tenant (lower-case letters, digits, ``.``, ``_``, ``-``; at most 63,
    starting with a letter or digit); ValueError with the rule otherwise."""
    if not TENANT_PATTERN.match(name):
        raise ValueError(
            f"not a tenant name: {name!r} (lower-case letters, digits, '.', '_' and '-', at most 63, "
            "starting with a letter or digit)"
        )
    return name


_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def expiry(text: str, now: datetime | None = None) -> datetime:
    """When a key given ``--expires TEXT`` stops working: ``TEXT`` is a duration from now (``30d``,
    ``12h``, ``90m``) or an ISO 8601 time (UTC when it names no zone). ValueError otherwise, or when
    that time has passed."""
    now = now or datetime.now(UTC)
    if match := _DURATION.match(text.strip()):
        when = now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"not a duration (30d, 12h, 90m) or an ISO time: {text!r}") from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise ValueError(f"{text!r} is not in the future")
    return when


@dataclass(frozen=True)
class Principal:
    """The key a request came with (``key_id`` None for the CLI), its tenant and scope."""

    tenant: str
    scope: Scope
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.ADMIN

    def visible_tenant(self, asked: str | None = None) -> str | None:
        """The tenant whose data this principal reads: its own; an admin reads ``asked`` or, when it
        asks for none, every tenant (None)."""
        if self.is_admin:
            return asked
        return self.tenant

    def owning_tenant(self, asked: str | None = None) -> str:
        """The tenant new data of this principal belongs to: its own; an admin may name another."""
        if self.is_admin and asked:
            return check_tenant_name(asked)
        return self.tenant


CLI = Principal(tenant=DEFAULT_TENANT, scope=Scope.ADMIN)
