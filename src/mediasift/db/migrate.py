"""Versioned schema migrations (Alembic), applied automatically and safely from many processes."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def sqlalchemy_url(libpq_url: str) -> str:
    """The same database as a SQLAlchemy URL that uses the psycopg 3 driver."""
    scheme, rest = libpq_url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {libpq_url!r}")
    return "postgresql+psycopg://" + rest


def alembic_config(libpq_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["sqlalchemy_url"] = sqlalchemy_url(libpq_url)
    return config


def upgrade(libpq_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(libpq_url), revision)
