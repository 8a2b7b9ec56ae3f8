"""PostgreSQL indexes for the event list's free-text search and group filter.

They use expressions (a trigram GIN over the event's text columns, a GIN over groups as jsonb) that
the SQLModel tables cannot declare portably, so the UI creates them itself, CONCURRENTLY (writers
are never blocked) and in the background at start-up; until they exist those two filters scan.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger("guard.ui")

# The search expression; queries.search_condition must use this exact text to match the index.
SEARCH_SQL = (
    "(reason || ' ' || identity || ' ' || destination || ' ' || model || ' ' || conversation_id || ' ' || error"
    " || ' ' || policy_rules::text || ' ' || classifications::text)"
)
GROUPS_SQL = "(groups::jsonb)"


def _statements(trgm_schema: str, concurrently: bool) -> list[str]:
    how = "CONCURRENTLY " if concurrently else ""
    return [
        f"CREATE INDEX {how}IF NOT EXISTS ix_ui_event_search_trgm ON audit_event USING gin ({SEARCH_SQL} {trgm_schema}.gin_trgm_ops)",
        f"CREATE INDEX {how}IF NOT EXISTS ix_ui_event_groups ON audit_event USING gin ({GROUPS_SQL} jsonb_path_ops)",
    ]


def ensure_indexes(engine: Engine, concurrently: bool = True) -> list[str]:
    """Create the search and group indexes if missing; return the names of the valid ones after.

    CONCURRENTLY never blocks writers but waits for every older transaction in the database; tests
    on a fresh schema pass concurrently=False.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as c:
        c = c.execution_options(isolation_level="AUTOCOMMIT")  # CONCURRENTLY cannot run in a transaction
        schema = c.exec_driver_sql(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
        ).scalar()
        if schema is None:
            try:
                c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                schema = "public"
            except Exception as e:  # noqa: BLE001 - no privilege: search keeps working, unindexed
                log.warning("pg_trgm unavailable (%s): event search will scan", type(e).__name__)
        stmts = _statements(schema, concurrently) if schema else _statements("public", concurrently)[1:]
        for sql in stmts:
            name = sql.split(" IF NOT EXISTS ")[1].split()[0]
            for _attempt in range(2):
                try:
                    c.exec_driver_sql(sql)
                except Exception as e:  # noqa: BLE001 - an index is an optimisation, never a reason not to serve
                    log.warning("could not create review UI index %s (%s)", name, type(e).__name__)
                # A failed CONCURRENTLY build (e.g. a deadlock with another one) leaves an INVALID
                # index that IF NOT EXISTS would keep forever: drop it and build once more.
                if name not in _invalid(c):
                    break
                c.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        return list(
            c.exec_driver_sql(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
                " WHERE t.relname = 'audit_event' AND n.nspname = current_schema() AND x.indisvalid"
                " AND i.relname LIKE 'ix_ui_%%' ORDER BY 1"
            ).scalars()
        )


def _invalid(c) -> set[str]:  # noqa: ANN001 - a SQLAlchemy Connection
    rows = c.exec_driver_sql(
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE t.relname = 'audit_event' AND n.nspname = current_schema() AND NOT x.indisvalid"
    ).scalars()
    return set(rows)


def ensure_in_background(engine: Engine) -> threading.Thread:
    """Run ensure_indexes in a daemon thread (building on a large table takes a while)."""
    t = threading.Thread(target=ensure_indexes, args=(engine,), name="guard-ui-indexes", daemon=True)
    t.start()
    return t
