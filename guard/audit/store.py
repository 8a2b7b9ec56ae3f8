"""Open the audit store: SQLite (WAL) by default, PostgreSQL through psycopg 3; migrate with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from guard.audit.models import DISPOSITIONS, AuditEventRow, Review, utcnow

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every guard process sharing a database.
_PG_MIGRATE_LOCK = 0x6775617264


def normalize_url(url: str) -> str:
    """Return a SQLAlchemy URL: postgres:// and postgresql:// use psycopg 3; a bare path means SQLite."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    return url


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


@dataclass
class Store:
    url: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; the caller commits."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.session() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the review UI) never block the writer
    cur.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss, not just kill -9
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(db_url: str, *, connect_timeout: float = 5.0, pool_size: int = 5) -> Engine:
    """Create an engine for the URL with the pragmas and timeouts guard relies on."""
    url = normalize_url(db_url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30.0})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args: dict[str, Any] = {"connect_timeout": max(1, int(connect_timeout))}
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, connect_args=args)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision`, one process at a time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATE_LOCK})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            return
        except OperationalError:
            # Two SQLite processes migrating at once: the loser retries and finds the schema current.
            if attempt == 2 or engine.dialect.name != "sqlite":
                raise


def open_store(db_url: str, *, migrate_schema: bool = True, connect_timeout: float = 5.0) -> Store:
    """Open the audit store at `db_url`, upgrading its schema first unless told not to."""
    engine = make_engine(db_url, connect_timeout=connect_timeout)
    if migrate_schema:
        migrate(engine)
    return Store(normalize_url(db_url), engine)


def record_review(
    session: Session, event_seq: int, disposition: str, reviewer: str, note: str = "", assignee: str = ""
) -> Review:
    """Add a review to an event and set the event's review_status to its disposition."""
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    review = Review(
        event_seq=event_seq, disposition=disposition, reviewer=reviewer, note=note, assignee=assignee, time=utcnow()
    )
    session.add(review)
    session.execute(update(AuditEventRow).where(AuditEventRow.seq == event_seq).values(review_status=disposition))
    return review


def get_event(session: Session, event_id: str) -> AuditEventRow | None:
    """The stored event with this event id, or None."""
    return session.scalars(select(AuditEventRow).where(AuditEventRow.event_id == event_id)).first()
