"""Deploy tests reuse the audit tests' PostgreSQL fixture (a schema per test on the local server)."""

from tests.audit.conftest import pg_url  # noqa: F401
