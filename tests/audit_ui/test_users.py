"""User administration: the Users page (admin) and the `guard users` commands."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from audit_ui.accounts import get
from guard.cli import app as guard_cli
from tests.audit_ui.conftest import csrf_of, login


def _post(client, path: str, **data: str):  # noqa: ANN001, ANN202
    return client.post(path, data={"csrf_token": csrf_of(client, "/users"), **data})


def test_admin_creates_a_user_who_gets_a_one_time_password(as_role, app) -> None:
    admin = as_role("admin")
    r = _post(admin, "/users", name="erin", role="reviewer")
    assert r.status_code == 200 and "Created erin (reviewer)." in r.text
    one_time = re.search(r'<code class="otp">([^<]+)</code>', r.text).group(1)
    assert "otp" not in admin.get("/users").text  # shown once
    from fastapi.testclient import TestClient

    with TestClient(app) as erin:
        login(erin, "erin", one_time)
        assert erin.get("/events", follow_redirects=False).headers["location"] == "/account/password"


def test_admin_refuses_bad_names_duplicates_and_unknown_roles(as_role) -> None:
    admin = as_role("admin")
    assert _post(admin, "/users", name="<b>x</b>", role="reviewer").status_code == 400
    assert "exists" in _post(admin, "/users", name="auditor", role="auditor").text
    assert _post(admin, "/users", name="zed", role="root").status_code == 400


@pytest.mark.slow  # several argon2 hashes (~0.1-0.6 s each)
def test_admin_changes_role_disables_and_resets(as_role, store) -> None:
    admin, auditor = as_role("admin"), as_role("auditor")
    assert "auditor is now reviewer." in _post(admin, "/users/auditor/role", role="reviewer").text
    assert auditor.get("/rules").status_code == 200
    token = csrf_of(auditor, "/events/e02")
    assert (
        auditor.post("/events/e02/review", data={"csrf_token": token, "disposition": "true_positive"}).status_code
        == 200
    )
    assert "Disabled auditor" in _post(admin, "/users/auditor/disable").text
    assert auditor.get("/", follow_redirects=False).status_code == 303
    assert "Enabled auditor" in _post(admin, "/users/auditor/enable").text
    r = _post(admin, "/users/auditor/reset-password")
    assert "Reset the password of auditor." in r.text and 'class="otp"' in r.text
    with Session(store.engine) as db:
        assert get(db, "auditor").must_change_password


def test_admin_cannot_disable_themselves_or_the_last_admin(as_role) -> None:
    admin = as_role("admin")
    assert "cannot disable your own account" in _post(admin, "/users/admin/disable").text
    assert "last enabled admin" in _post(admin, "/users/admin/role", role="auditor").text


@pytest.mark.slow  # several argon2 hashes (~0.1-0.6 s each)
def test_cli_adds_lists_disables_and_resets_users(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner().invoke
    r = run(guard_cli, ["users", "add", "alice", "--role", "admin", "--db", db], input="a long password here\n")
    assert r.exit_code == 0 and "created alice (admin)" in r.output and "a long password" not in r.output
    assert run(guard_cli, ["users", "add", "bob", "--role", "auditor", "--db", db], input="short\n").exit_code == 1
    r = run(guard_cli, ["users", "add", "bob", "--role", "auditor", "--one-time", "--db", db])
    assert r.exit_code == 0 and "one-time password" in r.output
    r = run(guard_cli, ["users", "list", "--db", db])
    assert re.search(r"alice\tadmin\tactive", r.output) and re.search(r"bob\tauditor\tmust-change-password", r.output)
    assert run(guard_cli, ["users", "disable", "alice", "--db", db]).exit_code == 1  # the last admin
    assert run(guard_cli, ["users", "disable", "bob", "--db", db]).exit_code == 0
    assert "bob\tauditor\tdisabled" in run(guard_cli, ["users", "list", "--db", db]).output
    r = run(guard_cli, ["users", "reset-password", "alice", "--db", db], input="another long password\n")
    assert r.exit_code == 0
    from audit_ui.core.security import verify_password
    from guard.audit.store import open_store

    with Session(open_store(db).engine) as s:
        assert verify_password(get(s, "alice").password_hash, "another long password")
    assert run(guard_cli, ["users", "disable", "nobody", "--db", db]).exit_code == 1
