"""Fixtures for the review UI: a real SQLite audit store, seeded events, a signed-in client per role."""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from audit_ui.app import create_app
from audit_ui.core.config import Settings
from audit_ui.core.security import hash_password
from guard.audit.chain import append
from guard.audit.models import User
from guard.audit.store import Store, open_store
from guard.events import AuditEvent, FindingRecord

PASSWORD = "correct horse battery"
ROLES = ("auditor", "reviewer", "admin")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def finding(
    category: str = "email", rule_id: str = "email-address", preview: str = "jo…om (18)", fp: str = "ab" * 32
) -> FindingRecord:
    """A finding record as the proxy would hand it to the store."""
    return FindingRecord(
        category=category, entity_type=category.upper(), rule_id=rule_id, field="messages[0].content",
        start=3, end=21, fingerprint=fp, preview=preview, score=0.9,
    )  # fmt: skip


def event(**kw: object) -> AuditEvent:
    """An audit event with sensible defaults; keyword arguments override fields."""
    base: dict[str, object] = dict(
        action="redact", provider="openai", endpoint="chat.completions", model="gpt-4o-mini",
        destination="api.openai.com", route="public", identity="alice", groups=("finance",),
        conversation_id="conv-1", policy_rules=("redact-personal-data",), reason="personal data redacted",
        findings=(finding(),), request_bytes=512,
    )  # fmt: skip
    base.update(kw)
    return AuditEvent(**base)  # type: ignore[arg-type]


def seed(store: Store, events: list[AuditEvent]) -> None:
    """Append events to the store through the audit chain, as the proxy's writer does."""
    append(store, events)


def standard_events(now: datetime | None = None) -> list[AuditEvent]:
    """A small, varied day of traffic."""
    now = now or datetime.now(UTC)
    t = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    return [
        event(
            time=t(50),
            event_id="e01",
            action="allow",
            findings=(),
            reason="nothing found",
            identity="bob",
            groups=("eng",),
        ),
        event(time=t(40), event_id="e02", action="redact", identity="alice"),
        event(
            time=t(30),
            event_id="e03",
            action="block",
            identity="carol",
            groups=("sales",),
            model="claude-3-5-sonnet",
            provider="anthropic",
            destination="api.anthropic.com",
            reason="secret in prompt",
            findings=(finding("secret", "github-token", "gh…mP (40)", "cd" * 32),),
            conversation_id="conv-2",
        ),
        event(
            time=t(20),
            event_id="e04",
            action="route_private",
            route="private",
            destination="llm.internal",
            model="llama3",
            provider="ollama",
            identity="alice",
            classifications=("confidential-marking",),
            reason="marked confidential",
        ),
        event(
            time=t(10),
            event_id="e05",
            action="redact",
            identity="dave",
            groups=("finance", "eng"),
            findings=(finding("phone", "phone-e164", "+4…89 (13)", "ef" * 32), finding()),
            conversation_id="conv-3",
        ),
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path, store: Store) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir()
    return Settings(database_url=store.url, rules=rules, home=tmp_path)


@functools.cache
def _password_hash() -> str:
    # argon2 costs ~0.1-0.6 s per hash here: hash the shared test password once per session.
    return hash_password(PASSWORD)


def make_users(store: Store) -> None:
    """One user per role, named after it, all with PASSWORD."""
    with Session(store.engine) as db:
        for role in ROLES:
            db.add(User(name=role, role=role, password_hash=_password_hash()))
        db.commit()


@pytest.fixture
def app(settings: Settings, store: Store):  # noqa: ANN201
    make_users(store)
    seed(store, standard_events())
    return create_app(settings)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of a form on `path`."""
    m = CSRF.search(client.get(path).text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    """Sign `client` in through the login form."""
    r = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def as_role(app):  # noqa: ANN001, ANN201
    """Factory: a TestClient signed in as the given role (user name == role)."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver")
        c.__enter__()
        clients.append(c)
        return login(c, role)

    yield make
    for c in clients:
        c.__exit__(None, None, None)


PG_URL = os.environ.get("GUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a schema made for this test and dropped after it."""
    import psycopg

    schema = f"guard_ui_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh audit store: once on SQLite, once on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'q.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(url)
    yield s
    s.close()
