"""SIEM tests reuse the audit store fixtures (SQLite and a fresh PostgreSQL schema)."""

from tests.audit.conftest import db_url, pg_url, store  # noqa: F401
