"""Every route checks the role: walk app.routes as each role and unauthenticated; CSRF on every POST."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from tests.audit_ui.conftest import ROLES, csrf_of

# The least role each route needs; "any" = any signed-in user. A new route must be added here, or
# test_every_route_is_classified fails: nobody can add a page and forget its access rule.
MIN_ROLE = {
    ("GET", "/"): "auditor",
    ("GET", "/events"): "auditor",
    ("GET", "/events.csv"): "auditor",
    ("GET", "/events/{event_id}"): "auditor",
    ("POST", "/events/{event_id}/review"): "reviewer",
    ("GET", "/rules"): "auditor",
    ("POST", "/events/{event_id}/allowlist"): "admin",
    ("GET", "/events/{event_id}/evidence"): "admin",
    ("POST", "/events/{event_id}/evidence"): "admin",
    ("GET", "/users"): "admin",
    ("POST", "/users"): "admin",
    ("POST", "/users/{name}/{change}"): "admin",
    ("GET", "/account/password"): "any",
    ("POST", "/account/password"): "any",
    ("POST", "/logout"): "any",
}
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}
# Concrete paths and harmless form bodies: an allowed request is validated and refused (400/404/409)
# or answered, so walking does not change what the next role sees.
PATHS = {"{event_id}": "e03", "{name}": "auditor", "{change}": "no-such-change"}
BODIES = {
    "/events/{event_id}/review": {"disposition": ""},
    "/events/{event_id}/allowlist": {"finding_id": "0"},
    "/events/{event_id}/evidence": {"private_key": ""},
    "/users": {"name": "", "role": "auditor"},
    "/account/password": {"current": "wrong", "new": "x", "repeat": "y"},
    "/login": {"username": "nobody", "password": "wrong"},
}


def all_routes(app) -> list[tuple[str, str]]:  # noqa: ANN001
    """(method, path) of every route, looking inside included routers (FastAPI ≥0.120 nests them)."""
    out = []

    def walk(routes) -> None:  # noqa: ANN001
        for r in routes:
            if isinstance(r, APIRoute):
                out.extend((m, r.path) for m in r.methods)
            elif hasattr(r, "effective_route_contexts"):
                for ctx in r.effective_route_contexts():
                    out.extend((m, ctx.path) for m in getattr(ctx.original_route, "methods", ()) or ())
            elif isinstance(r, Mount):
                assert r.path == "/static", f"unexpected mount {r.path}"
            elif getattr(r, "methods", None):
                out.extend((m, r.path) for m in r.methods)

    walk(app.routes)
    return sorted(set(out) - {("HEAD", p) for _, p in out})


def test_every_route_is_classified(app) -> None:
    routes = set(all_routes(app))
    assert routes == set(MIN_ROLE) | PUBLIC, (
        f"unclassified: {routes - set(MIN_ROLE) - PUBLIC}, gone: {set(MIN_ROLE) | PUBLIC - routes}"
    )


def _concrete(path: str) -> str:
    for k, v in PATHS.items():
        path = path.replace(k, v)
    return path


def _expected(method: str, need: str, role: str | None) -> str:
    if role is None:
        return "login" if method == "GET" else "401"
    if need == "any" or ROLES.index(role) >= ROLES.index(need):
        return "allowed"
    return "403"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_when_walking_every_route_as_role_then_access_matches_the_table(app, client, role) -> None:
    if role is not None:
        from tests.audit_ui.conftest import login

        login(client, role)
    token = csrf_of(client, "/login")
    # /logout last: it ends the session the other requests need.
    for method, path in sorted(MIN_ROLE, key=lambda k: k[1] == "/logout"):
        need = MIN_ROLE[(method, path)]
        url = _concrete(path)
        if method == "GET":
            r = client.get(url, follow_redirects=False)
        else:
            r = client.post(url, data={"csrf_token": token, **BODIES.get(path, {})}, follow_redirects=False)
        want = _expected(method, need, role)
        where = f"{method} {path} as {role}: {r.status_code}"
        if want == "login":
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), where
        elif want == "401":
            assert r.status_code == 401, where
        elif want == "403":
            assert r.status_code == 403, where
        else:
            assert r.status_code not in (401, 403) and r.status_code < 500, where
            if method == "GET":
                assert r.status_code == 200, where
    token = csrf_of(client, "/login")  # signed out now: the old session and its token are gone
    for method, path in PUBLIC:
        r = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": token, **BODIES[path]})
        assert r.status_code in (200, 401), f"{method} {path}: {r.status_code}"


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(as_role) -> None:
    admin = as_role("admin")
    for method, path in sorted(set(MIN_ROLE) | PUBLIC):
        if method != "POST":
            continue
        url = _concrete(path)
        body = BODIES.get(path, {})
        assert admin.post(url, data=body, follow_redirects=False).status_code == 403, f"{path} without token"
        bad = admin.post(url, data={**body, "csrf_token": "forged"}, follow_redirects=False)
        assert bad.status_code == 403, f"{path} with a forged token"
    # Still signed in: the refused /logout did nothing.
    assert admin.get("/users").status_code == 200


def test_cross_origin_post_is_refused_even_with_the_token(as_role) -> None:
    reviewer = as_role("reviewer")
    token = csrf_of(reviewer, "/events/e03")
    r = reviewer.post(
        "/events/e03/review",
        data={"csrf_token": token, "disposition": "true_positive"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "unreviewed" in reviewer.get("/events/e03").text


def test_pages_send_security_headers(as_role) -> None:
    r = as_role("auditor").get("/events")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


def test_no_inline_script_or_style_in_any_page(as_role) -> None:
    import re

    admin = as_role("admin")
    for path in ("/", "/events", "/events/e03", "/rules", "/users", "/account/password", "/events/e03/evidence"):
        html = admin.get(path).text
        assert "<script" not in html, path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path
