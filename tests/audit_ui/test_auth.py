"""Sign-in, sessions, rate limiting, single sign-on, settings that refuse unsafe secrets."""

from __future__ import annotations

import base64
import json
import time

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlmodel import Session

from audit_ui import accounts
from audit_ui.app import create_app
from audit_ui.core import security
from audit_ui.core.config import DEV_SECRET, Settings
from tests.audit_ui.conftest import PASSWORD, csrf_of, login


def _post_login(client: TestClient, name: str, password: str, next_: str = "/") -> object:
    data = {"username": name, "password": password, "csrf_token": csrf_of(client), "next": next_}
    return client.post("/login", data=data, follow_redirects=False)


def test_when_not_signed_in_then_pages_redirect_to_login_with_next(client) -> None:
    r = client.get("/events/e03", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/events/e03"


def test_when_password_right_then_session_cookie_is_signed_httponly_samesite_with_expiry(client) -> None:
    r = _post_login(client, "auditor", PASSWORD, "/events")
    assert r.status_code == 303 and r.headers["location"] == "/events"
    cookie = r.headers["set-cookie"].lower()
    assert (
        "guard_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
    )
    assert client.get("/events").status_code == 200


def test_when_password_wrong_or_user_unknown_then_same_refusal(client) -> None:
    wrong = _post_login(client, "auditor", "not the password")
    unknown = _post_login(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password" in wrong.text and "Wrong name or password" in unknown.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_when_user_unknown_then_a_password_hash_is_still_verified(client, monkeypatch) -> None:
    # Timing: an unknown name must cost the same argon2 verification as a known one.
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            calls.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(security, "_hasher", Counting())
    _post_login(client, "nobody-here", "whatever password")
    _post_login(client, "auditor", "whatever password")
    assert len(calls) == 2 and calls[0] == security._DUMMY_HASH and calls[1].startswith("$argon2id$")


@pytest.mark.slow  # several argon2 hashes (~0.1-0.6 s each)
def test_when_login_fails_repeatedly_then_even_the_right_password_is_rate_limited(client) -> None:
    for _ in range(5):
        assert _post_login(client, "reviewer", "bad password").status_code == 401
    r = _post_login(client, "reviewer", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # Another account from elsewhere is not locked out by this.
    other = TestClient(client.app, client=("10.9.9.9", 1234))
    assert _post_login(other, "auditor", PASSWORD).status_code == 303


def test_when_cookie_is_tampered_then_session_is_ignored(client) -> None:
    # Rewrite the signed payload to claim the admin account, keeping the old signature.
    login(client, "auditor")
    value = client.cookies.get("guard_session")
    payload, rest = value.split(".", 1)
    data = json.loads(base64.b64decode(payload))
    assert data["user"] == "auditor"
    data["user"] = "admin"
    forged = base64.b64encode(json.dumps(data).encode()).decode() + "." + rest
    client.cookies.clear()
    client.cookies.set("guard_session", forged)
    assert client.get("/users", follow_redirects=False).status_code == 303


@pytest.mark.slow  # several argon2 hashes (~0.1-0.6 s each)
def test_when_session_is_older_than_max_age_then_it_ends(settings, app) -> None:
    short = create_app(settings.model_copy(update={"session_max_age": 1}))
    with TestClient(short) as c:
        login(c, "auditor")
        assert c.get("/", follow_redirects=False).status_code == 200
        time.sleep(2.1)
        assert c.get("/", follow_redirects=False).status_code == 303


def test_when_user_is_disabled_or_password_reset_then_existing_sessions_end(as_role, store) -> None:
    reviewer, auditor = as_role("reviewer"), as_role("auditor")
    with Session(store.engine) as db:
        accounts.set_disabled(db, "reviewer", True)
        accounts.reset_password(db, "auditor", "a brand new password")
    assert reviewer.get("/", follow_redirects=False).status_code == 303
    assert auditor.get("/", follow_redirects=False).status_code == 303
    assert _post_login(reviewer, "reviewer", PASSWORD).status_code == 401  # disabled: refused


def test_when_password_is_one_time_then_user_must_change_it_first(client, store) -> None:
    with Session(store.engine) as db:
        _, one_time = accounts.create(db, "newbie", "auditor")
    login(client, "newbie", one_time)
    r = client.get("/events", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    token = csrf_of(client, "/account/password")
    bad = client.post(
        "/account/password", data={"csrf_token": token, "current": one_time, "new": "short", "repeat": "short"}
    )
    assert bad.status_code == 400 and "at least" in bad.text
    new = "my own long password"
    r = client.post("/account/password", data={"csrf_token": token, "current": one_time, "new": new, "repeat": new})
    assert r.status_code == 200 and "Dashboard" in r.text
    assert client.get("/events").status_code == 200


def test_when_next_points_off_site_then_login_goes_home(client) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = _post_login(client, "auditor", PASSWORD, target)
        assert r.headers["location"] == "/", target


def test_logout_ends_the_session(as_role) -> None:
    c = as_role("auditor")
    c.post("/logout", data={"csrf_token": csrf_of(c, "/")})
    assert c.get("/", follow_redirects=False).status_code == 303


@pytest.fixture
def sso_app(settings, app):  # noqa: ANN001, ANN201
    return create_app(settings.model_copy(update={"sso_header": "X-Remote-User", "trusted_proxies": ["10.0.0.5"]}))


def test_when_sso_header_comes_from_the_trusted_proxy_then_user_is_signed_in(sso_app) -> None:
    proxy = TestClient(sso_app, client=("10.0.0.5", 4000))
    r = proxy.get("/users", headers={"X-Remote-User": "admin"}, follow_redirects=False)
    assert r.status_code == 200 and "Add a user" in r.text
    assert proxy.get("/events", headers={"X-Remote-User": "no-such-user"}).status_code == 403


def test_when_sso_header_comes_from_anyone_else_then_it_is_ignored(sso_app) -> None:
    other = TestClient(sso_app, client=("10.0.0.6", 4000))
    r = other.get("/users", headers={"X-Remote-User": "admin"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_settings_refuse_the_default_secret_outside_local_development(monkeypatch) -> None:
    monkeypatch.setenv("GUARD_ENVIRONMENT", "production")
    monkeypatch.delenv("GUARD_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="GUARD_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("GUARD_SECRET_KEY", "short")
    with pytest.raises(ValueError, match="GUARD_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("GUARD_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("GUARD_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16")
    s = Settings()
    assert s.secret_key != DEV_SECRET and s.is_trusted_proxy("10.1.2.3") and not s.is_trusted_proxy("10.2.0.1")
    monkeypatch.setenv("GUARD_SSO_HEADER", "X-Remote-User")
    monkeypatch.setenv("GUARD_TRUSTED_PROXIES", "")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings()
